variable "name" {
  description = "Secret name prefix (e.g. fintech-prod)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the secrets."
  type        = string
}

variable "db_host" {
  description = "The database hostname."
  type        = string
}

variable "db_port" {
  description = "The database port."
  type        = number
  default     = 5432
}

variable "db_name" {
  description = "The database name."
  type        = string
  default     = "fintech"
}

variable "db_username" {
  description = "The database user."
  type        = string
  default     = "fintech"
}

variable "provider_secret_names" {
  description = "Environment variable names of provider credentials to hold (e.g. FINTECH_STRIPE_API_KEY)."
  type        = list(string)
  default = [
    "FINTECH_STRIPE_API_KEY",
    "FINTECH_STRIPE_WEBHOOK_SECRETS",
    "FINTECH_PLAID_CLIENT_ID",
    "FINTECH_PLAID_SECRET",
    "FINTECH_ALPACA_KEY_ID",
    "FINTECH_ALPACA_SECRET_KEY",
  ]
}

variable "recovery_window_days" {
  description = "Days a deleted secret can be restored."
  type        = number
  default     = 30
}
