variable "name" {
  description = "Name prefix of every resource (e.g. fintech-prod)."
  type        = string
}

variable "cidr" {
  description = "The VPC's address range (a /16)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread the subnets over (2 or 3, named explicitly so the set never changes under the VPC)."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, not zone-redundant): dev only."
  type        = bool
  default     = false
}

variable "app_port" {
  description = "The API port of the containers."
  type        = number
  default     = 8080
}

variable "metrics_port" {
  description = "The metrics listener port of the containers (FINTECH_METRICS_ADDR)."
  type        = number
  default     = 9464
}

variable "metrics_scrape_cidrs" {
  description = "Ranges a Prometheus outside the task may scrape the metrics port from (empty: only the in-task collector scrapes it)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days to keep flow logs."
  type        = number
  default     = 365
}
