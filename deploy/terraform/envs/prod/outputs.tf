output "api_url" {
  description = "The API."
  value       = module.stack.api_url
}

output "dashboard_url" {
  description = "The dashboard."
  value       = module.stack.dashboard_url
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.stack.cluster_name
}

output "service_name" {
  description = "ECS service."
  value       = module.stack.service_name
}

output "task_definition_family" {
  description = "Task definition family."
  value       = module.stack.task_definition_family
}

output "app_subnet_ids" {
  description = "Subnets for one-off tasks."
  value       = module.stack.app_subnet_ids
}

output "app_security_group_id" {
  description = "Security group for one-off tasks."
  value       = module.stack.app_security_group_id
}

output "log_group" {
  description = "Container logs."
  value       = module.stack.log_group
}

output "backups_bucket" {
  description = "Database exports."
  value       = module.stack.backups_bucket
}

output "amp_workspace_endpoint" {
  description = "Prometheus endpoint."
  value       = module.stack.amp_workspace_endpoint
}
