# Monitoring: Amazon Managed Prometheus (the task sidecars remote-write fintech-server's
# metrics to it) evaluating the same recording and alert rules as the compose stack
# (deploy/prometheus/rules, unit-tested in CI), its alertmanager and CloudWatch alarms on the
# load balancer, the service, the database and Redis, all notifying one encrypted SNS topic.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Prometheus ---

resource "aws_cloudwatch_log_group" "amp" {
  name              = "/aps/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_prometheus_workspace" "this" {
  alias       = var.name
  kms_key_arn = var.kms_key_arn

  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.amp.arn}:*"
  }
}

resource "aws_prometheus_rule_group_namespace" "rules" {
  for_each     = toset(["recording", "alerts"])
  name         = each.key
  workspace_id = aws_prometheus_workspace.this.id
  data         = file("${path.module}/../../../prometheus/rules/${each.key}.yml")
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PrometheusAndCloudWatchPublish"
      Effect    = "Allow"
      Principal = { Service = ["aps.amazonaws.com", "cloudwatch.amazonaws.com"] }
      Action    = ["sns:Publish", "sns:GetTopicAttributes"]
      Resource  = aws_sns_topic.alerts.arn
      Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
    }]
  })
}

resource "aws_prometheus_alert_manager_definition" "this" {
  workspace_id = aws_prometheus_workspace.this.id
  definition   = <<-EOT
    alertmanager_config: |
      route:
        receiver: sns
        group_by: [alertname, job]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
      receivers:
        - name: sns
          sns_configs:
            - topic_arn: ${aws_sns_topic.alerts.arn}
              sigv4:
                region: ${var.region}
              attributes:
                environment: ${var.name}
  EOT
}

# --- CloudWatch alarms (what AWS sees from outside the process) ---

locals {
  alarms = {
    alb-5xx = {
      namespace   = "AWS/ApplicationELB"
      metric      = "HTTPCode_Target_5XX_Count"
      stat        = "Sum"
      threshold   = var.alb_5xx_per_minute
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      description = "targets answered more than ${var.alb_5xx_per_minute} 5xx a minute"
    }
    alb-unhealthy-hosts = {
      namespace   = "AWS/ApplicationELB"
      metric      = "UnHealthyHostCount"
      stat        = "Maximum"
      threshold   = 0
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
      description = "a task fails /readyz"
    }
    ecs-cpu = {
      namespace   = "AWS/ECS"
      metric      = "CPUUtilization"
      stat        = "Average"
      threshold   = 85
      dimensions  = { ClusterName = var.ecs_cluster_name, ServiceName = var.ecs_service_name }
      description = "service CPU above 85% (autoscaling at its maximum?)"
    }
    ecs-memory = {
      namespace   = "AWS/ECS"
      metric      = "MemoryUtilization"
      stat        = "Average"
      threshold   = 85
      dimensions  = { ClusterName = var.ecs_cluster_name, ServiceName = var.ecs_service_name }
      description = "service memory above 85%"
    }
    rds-cpu = {
      namespace   = "AWS/RDS"
      metric      = "CPUUtilization"
      stat        = "Average"
      threshold   = 80
      dimensions  = { DBInstanceIdentifier = var.db_instance_id }
      description = "database CPU above 80%"
    }
    rds-connections = {
      namespace   = "AWS/RDS"
      metric      = "DatabaseConnections"
      stat        = "Maximum"
      threshold   = var.db_connection_alarm
      dimensions  = { DBInstanceIdentifier = var.db_instance_id }
      description = "database connections near the limit (tasks x FINTECH_MAX_CONNECTIONS)"
    }
    redis-cpu = {
      namespace   = "AWS/ElastiCache"
      metric      = "EngineCPUUtilization"
      stat        = "Average"
      threshold   = 80
      dimensions  = { ReplicationGroupId = var.redis_replication_group_id }
      description = "Redis engine CPU above 80%"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.stat
  dimensions          = each.value.dimensions
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "rds_storage" {
  alarm_name          = "${var.name}-rds-free-storage"
  alarm_description   = "database free storage under 10 GiB (autoscaling at its ceiling?)"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  dimensions          = { DBInstanceIdentifier = var.db_instance_id }
  period              = 300
  evaluation_periods  = 2
  threshold           = 10 * 1024 * 1024 * 1024
  comparison_operator = "LessThanThreshold"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "p99" {
  alarm_name          = "${var.name}-alb-p99-latency"
  alarm_description   = "p99 target response time above ${var.p99_seconds} s"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 8
  threshold           = var.p99_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}
