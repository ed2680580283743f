output "api_url" {
  description = "The API."
  value       = "https://${var.api_hostname}"
}

output "dashboard_url" {
  description = "The dashboard."
  value       = "https://${var.dashboard_hostname}"
}

output "cluster_name" {
  description = "ECS cluster (one-off tasks: aws ecs run-task)."
  value       = module.ecs.cluster_name
}

output "service_name" {
  description = "ECS service."
  value       = module.ecs.service_name
}

output "task_definition_family" {
  description = "Task definition family."
  value       = module.ecs.task_definition_family
}

output "app_subnet_ids" {
  description = "Subnets for one-off tasks."
  value       = module.network.app_subnet_ids
}

output "app_security_group_id" {
  description = "Security group for one-off tasks."
  value       = module.network.app_security_group_id
}

output "log_group" {
  description = "Container logs."
  value       = module.ecs.log_group
}

output "backups_bucket" {
  description = "Database exports."
  value       = module.s3.backups_bucket
}

output "amp_workspace_endpoint" {
  description = "Prometheus endpoint for Grafana (SigV4)."
  value       = module.monitoring.amp_workspace_endpoint
}

output "alerts_topic_arn" {
  description = "Alert topic."
  value       = module.monitoring.alerts_topic_arn
}
