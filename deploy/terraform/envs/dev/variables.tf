variable "region" {
  description = "The AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "image" {
  description = "<ecr repository url>:<release tag>; the deploy workflow passes -var image=…"
  type        = string
}

variable "ecr_repository_arn" {
  description = "envs/shared output ecr_repository_arn."
  type        = string
}

variable "ecr_kms_key_arn" {
  description = "envs/shared output ecr_kms_key_arn."
  type        = string
}

variable "zone_name" {
  description = "Public hosted zone."
  type        = string
}

variable "api_hostname" {
  description = "The API's name."
  type        = string
}

variable "dashboard_hostname" {
  description = "The dashboard's name."
  type        = string
}

variable "alert_emails" {
  description = "Who gets alerts."
  type        = list(string)
  default     = []
}

variable "enabled_provider_secrets" {
  description = "Provider credentials to inject once their values are put (e.g. FINTECH_STRIPE_API_KEY)."
  type        = list(string)
  default     = []
}

variable "extra_environment" {
  description = "Further FINTECH_* settings."
  type        = map(string)
  default     = {}
}
