variable "environment" {
  description = "dev, staging or prod: names every resource fintech-<environment>-…"
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment is one of dev, staging, prod"
  }
}

variable "image" {
  description = "The image to run: <ecr repository url>:<release tag> (the deploy workflow passes it)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "The image repository (envs/shared output)."
  type        = string
}

variable "ecr_kms_key_arn" {
  description = "Its KMS key (envs/shared output)."
  type        = string
}

variable "zone_name" {
  description = "Public hosted zone of the hostnames."
  type        = string
}

variable "api_hostname" {
  description = "The API's public name."
  type        = string
}

variable "dashboard_hostname" {
  description = "The dashboard's public name (CloudFront)."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's range."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones (2 or 3)."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway (dev)."
  type        = bool
  default     = false
}

variable "metrics_scrape_cidrs" {
  description = "Ranges of an in-VPC Prometheus scraping the tasks directly (empty: the sidecar only)."
  type        = list(string)
  default     = []
}

variable "db_instance_class" {
  description = "RDS size."
  type        = string
}

variable "db_multi_az" {
  description = "A standby in another zone."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Point-in-time recovery window."
  type        = number
  default     = 14
}

variable "redis_node_type" {
  description = "ElastiCache size."
  type        = string
}

variable "redis_nodes" {
  description = "Redis nodes (at least 2: failover)."
  type        = number
}

variable "task_cpu" {
  description = "CPU units per task."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "MiB per task."
  type        = number
  default     = 2048
}

variable "min_tasks" {
  description = "Fewest tasks."
  type        = number
  default     = 2
}

variable "max_tasks" {
  description = "Most tasks."
  type        = number
  default     = 10
}

variable "db_max_connections_per_task" {
  description = "FINTECH_MAX_CONNECTIONS."
  type        = number
  default     = 10
}

variable "enabled_provider_secrets" {
  description = "Provider credentials to inject (put their values first: a secret without a value stops the task from starting)."
  type        = list(string)
  default     = []
}

variable "extra_environment" {
  description = "Further FINTECH_* settings (non-secret)."
  type        = map(string)
  default     = {}
}

variable "alert_emails" {
  description = "Who gets alerts."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the database and load balancer from deletion."
  type        = bool
  default     = true
}
