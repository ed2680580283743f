variable "name" {
  description = "Name prefix (e.g. fintech-prod); the alias is alias/<name>."
  type        = string
}

variable "deletion_window_days" {
  description = "Days a scheduled key deletion can be cancelled."
  type        = number
  default     = 30
}
