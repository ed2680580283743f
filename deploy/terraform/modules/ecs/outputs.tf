output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "The ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_family" {
  description = "The task definition family (one-off tasks: fintech migrate, fintech keys create)."
  value       = aws_ecs_task_definition.this.family
}

output "alb_arn_suffix" {
  description = "For CloudWatch alarms."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "For CloudWatch alarms."
  value       = aws_lb_target_group.this.arn_suffix
}

output "alb_dns_name" {
  description = "The load balancer's name (Route 53 alias, CloudFront origin)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Its hosted zone (Route 53 alias)."
  value       = aws_lb.this.zone_id
}

output "log_group" {
  description = "Container logs."
  value       = aws_cloudwatch_log_group.app.name
}

output "execution_role_arn" {
  description = "The execution role (the deploy role passes it)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "The task role (the deploy role passes it)."
  value       = aws_iam_role.task.arn
}
