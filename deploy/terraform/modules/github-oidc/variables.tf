variable "name" {
  description = "Name prefix (e.g. fintech)."
  type        = string
}

variable "account_id" {
  description = "The AWS account."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows may sign in."
  type        = string
}

variable "environments" {
  description = "Environments with a deploy role each (GitHub environments of the same names)."
  type        = list(string)
  default     = ["dev", "staging", "prod"]
}

variable "ecr_repository_arn" {
  description = "The repository release pushes to."
  type        = string
}

variable "ecr_kms_key_arn" {
  description = "Its KMS key."
  type        = string
}

variable "state_bucket" {
  description = "The Terraform state bucket (objects under <env>/)."
  type        = string
}
