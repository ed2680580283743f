variable "name" {
  description = "Name prefix of the cluster, service, load balancer and roles."
  type        = string
}

variable "image" {
  description = "The fintech image, by digest or immutable tag (e.g. <repo>:v1.2.3)."
  type        = string
}

variable "collector_image" {
  description = "The AWS Distro for OpenTelemetry collector image."
  type        = string
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"
}

variable "server_args" {
  description = "Arguments of fintech-server (no demo tenant in a real deployment)."
  type        = list(string)
  default     = ["--no-demo"]
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "app_subnet_ids" {
  description = "Subnets of the tasks."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer."
  type        = string
}

variable "app_security_group_id" {
  description = "Security group of the tasks."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the public hostname."
  type        = string
}

variable "public_hostname" {
  description = "The API's public name (accepted as Host on the MCP endpoints)."
  type        = string
}

variable "logs_bucket" {
  description = "Bucket receiving the load balancer's access logs."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's KMS key (logs, secrets)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "The image repository (the execution role may pull from it only)."
  type        = string
}

variable "ecr_kms_key_arn" {
  description = "The KMS key encrypting the image repository."
  type        = string
}

variable "encryption_key_secret_arn" {
  description = "Secret with FINTECH_ENCRYPTION_KEY."
  type        = string
}

variable "database_url_secret_arn" {
  description = "Secret with FINTECH_DATABASE_URL."
  type        = string
}

variable "provider_secret_arns" {
  description = "Provider credentials to inject, by environment variable name (only secrets that have a value)."
  type        = map(string)
  default     = {}
}

variable "extra_environment" {
  description = "Further non-secret FINTECH_* settings (e.g. FINTECH_OIDC_ISSUER, FINTECH_RATE_LIMIT)."
  type        = map(string)
  default     = {}
}

variable "amp_workspace_arn" {
  description = "Amazon Managed Prometheus workspace the collector writes to."
  type        = string
}

variable "amp_workspace_endpoint" {
  description = "Its endpoint (ends with /)."
  type        = string
}

variable "app_port" {
  description = "API port."
  type        = number
  default     = 8080
}

variable "metrics_port" {
  description = "Metrics listener port."
  type        = number
  default     = 9464
}

variable "metrics_scrape_cidrs" {
  description = "Non-empty: bind the metrics listener on all interfaces for a Prometheus in these ranges (the network module opens the port); empty: loopback only, for the sidecar."
  type        = list(string)
  default     = []
}

variable "log_filter" {
  description = "FINTECH_LOG."
  type        = string
  default     = "info"
}

variable "db_max_connections" {
  description = "Database pool size per task (tasks x this must stay under the database's max_connections)."
  type        = number
  default     = 10
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 2048
}

variable "min_tasks" {
  description = "Fewest tasks (at least 2 for availability)."
  type        = number
  default     = 2
}

variable "max_tasks" {
  description = "Most tasks autoscaling may run."
  type        = number
  default     = 10
}

variable "waf_rate_limit_per_5min" {
  description = "Requests per 5 minutes from one IP before WAF blocks it."
  type        = number
  default     = 6000
}

variable "deletion_protection" {
  description = "Refuse deletion of the load balancer."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days to keep container and WAF logs."
  type        = number
  default     = 365
}
