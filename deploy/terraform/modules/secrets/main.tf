# Secrets Manager entries the tasks read at start (injected as environment variables by ECS,
# never in the task definition or the image):
#   FINTECH_ENCRYPTION_KEY   generated here: base64 of 32 random bytes sealing secrets at rest
#   FINTECH_DATABASE_URL     composed here from the RDS address and a generated password
#   redis AUTH token         generated here
#   provider credentials     containers only; an operator puts the values (docs/deploy.md)
# All are encrypted with the environment's KMS key. Generated values also live in the
# Terraform state: keep the state bucket encrypted and access to it narrow.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

resource "random_bytes" "encryption_key" {
  length = 32
}

resource "random_password" "db" {
  length  = 40
  special = false
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

locals {
  generated = {
    "encryption-key"   = "the key sealing provider tokens and webhook secrets at rest (FINTECH_ENCRYPTION_KEY); losing it loses them"
    "database-url"     = "the PostgreSQL URL of fintech-server (FINTECH_DATABASE_URL)"
    "redis-auth-token" = "the ElastiCache AUTH token"
  }
  values = {
    "encryption-key"   = random_bytes.encryption_key.base64
    "database-url"     = "postgres://${var.db_username}:${random_password.db.result}@${var.db_host}:${var.db_port}/${var.db_name}"
    "redis-auth-token" = random_password.redis.result
  }
}

resource "aws_secretsmanager_secret" "generated" {
  #checkov:skip=CKV2_AWS_57:rotating the encryption key means re-sealing every stored secret and the database password is rotated with a planned apply (docs/deploy.md); no rotation Lambda
  for_each                = local.generated
  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each      = local.generated
  secret_id     = aws_secretsmanager_secret.generated[each.key].id
  secret_string = local.values[each.key]
}

# Provider credentials: issued by Stripe, Plaid and Alpaca, rotated there. Terraform makes
# the containers; the values are put with `aws secretsmanager put-secret-value`.
resource "aws_secretsmanager_secret" "provider" {
  #checkov:skip=CKV2_AWS_57:provider credentials are issued and rotated at the provider, then put here by an operator
  for_each                = toset(var.provider_secret_names)
  name                    = "${var.name}/providers/${each.value}"
  description             = "${each.value} for fintech-server (put by an operator)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
}
