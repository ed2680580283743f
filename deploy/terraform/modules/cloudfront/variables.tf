variable "name" {
  description = "Name prefix."
  type        = string
}

variable "dashboard_hostname" {
  description = "The dashboard's public name."
  type        = string
}

variable "origin_hostname" {
  description = "The API hostname (the load balancer's certificate name)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the dashboard name, in us-east-1."
  type        = string
}

variable "logs_bucket_domain_name" {
  description = "Bucket for access logs."
  type        = string
}

variable "price_class" {
  description = "Edge locations used."
  type        = string
  default     = "PriceClass_100"
}

variable "geo_allow" {
  description = "Country codes allowed (empty: everyone)."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Days to keep WAF logs."
  type        = number
  default     = 365
}
