# Route 53 and ACM: certificates (validated by DNS) for the API hostname in the region and for
# the dashboard hostname in us-east-1 (CloudFront's region), and alias records pointing the
# API name at the load balancer and the dashboard name at CloudFront.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.80"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}

resource "aws_acm_certificate" "api" {
  domain_name       = var.api_hostname
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "dashboard" {
  provider          = aws.us_east_1
  domain_name       = var.dashboard_hostname
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

locals {
  validation = merge(
    { for o in aws_acm_certificate.api.domain_validation_options : "api-${o.domain_name}" => o },
    { for o in aws_acm_certificate.dashboard.domain_validation_options : "dashboard-${o.domain_name}" => o },
  )
}

resource "aws_route53_record" "validation" {
  for_each        = local.validation
  zone_id         = data.aws_route53_zone.this.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  certificate_arn         = aws_acm_certificate.api.arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "api-")]
}

resource "aws_acm_certificate_validation" "dashboard" {
  provider                = aws.us_east_1
  certificate_arn         = aws_acm_certificate.dashboard.arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "dashboard-")]
}

resource "aws_route53_record" "api" {
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.api_hostname
  type    = "A"
  alias {
    name                   = var.alb_dns_name
    zone_id                = var.alb_zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "dashboard" {
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.dashboard_hostname
  type    = "A"
  alias {
    name                   = var.cloudfront_domain_name
    zone_id                = var.cloudfront_zone_id
    evaluate_target_health = false
  }
}
