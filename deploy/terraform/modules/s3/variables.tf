variable "name" {
  description = "Bucket name prefix (globally unique: include the account or a domain)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the backups bucket."
  type        = string
}

variable "backup_noncurrent_days" {
  description = "Days a replaced or deleted backup object is kept."
  type        = number
  default     = 90
}

variable "log_days" {
  description = "Days access logs are kept."
  type        = number
  default     = 365
}
