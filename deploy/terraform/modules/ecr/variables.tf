variable "name" {
  description = "Repository name (e.g. fintech)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images."
  type        = string
}

variable "keep_images" {
  description = "Tagged images kept (older ones expire; keep enough to roll back)."
  type        = number
  default     = 50
}
