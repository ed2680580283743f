variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "The region (alertmanager's SNS signing)."
  type        = string
}

variable "account_id" {
  description = "The account (topic policy condition)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the topic, the workspace and its logs."
  type        = string
}

variable "alert_emails" {
  description = "Addresses subscribed to the alert topic (each confirms by email)."
  type        = list(string)
  default     = []
}

variable "alb_arn_suffix" {
  description = "The load balancer."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "The target group."
  type        = string
}

variable "ecs_cluster_name" {
  description = "The cluster."
  type        = string
}

variable "ecs_service_name" {
  description = "The service."
  type        = string
}

variable "db_instance_id" {
  description = "The RDS instance."
  type        = string
}

variable "db_connection_alarm" {
  description = "Connections that raise the alarm."
  type        = number
  default     = 150
}

variable "redis_replication_group_id" {
  description = "The Redis replication group."
  type        = string
}

variable "alb_5xx_per_minute" {
  description = "5xx a minute that raise the alarm."
  type        = number
  default     = 10
}

variable "p99_seconds" {
  description = "p99 response time that raises the alarm."
  type        = number
  default     = 1.5
}

variable "log_retention_days" {
  description = "Days to keep the workspace's logs."
  type        = number
  default     = 365
}
