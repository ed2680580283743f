variable "zone_name" {
  description = "The public hosted zone (e.g. example.com), created beforehand."
  type        = string
}

variable "api_hostname" {
  description = "The API's name (e.g. api.example.com)."
  type        = string
}

variable "dashboard_hostname" {
  description = "The dashboard's name (e.g. app.example.com), served through CloudFront."
  type        = string
}

variable "alb_dns_name" {
  description = "The load balancer."
  type        = string
}

variable "alb_zone_id" {
  description = "The load balancer's hosted zone."
  type        = string
}

variable "cloudfront_domain_name" {
  description = "The distribution."
  type        = string
}

variable "cloudfront_zone_id" {
  description = "The distribution's hosted zone."
  type        = string
}
