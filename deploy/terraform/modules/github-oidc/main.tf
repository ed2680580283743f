# GitHub Actions signs in to AWS with OIDC (no stored keys):
#   - release: may push images to the one ECR repository, from tags v* (or main, for a manual
#     run) of the repository only;
#   - deploy-<env>: may run Terraform for that environment (its state under <env>/ in the
#     state bucket, and the services the stack manages), from the workflow's GitHub
#     environments <env>-plan and <env> only; prod's required reviewers gate the apply.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

resource "aws_iam_openid_connect_provider" "github" {
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"] # AWS no longer checks it for GitHub
}

data "aws_iam_policy_document" "release_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:ref:refs/tags/v*", "repo:${var.github_repository}:ref:refs/heads/main"]
    }
  }
}

resource "aws_iam_role" "release" {
  name               = "${var.name}-github-release"
  assume_role_policy = data.aws_iam_policy_document.release_assume.json
}

data "aws_iam_policy_document" "release" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid = "PushTheImage"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
      "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload",
      "ecr:PutImage", "ecr:UploadLayerPart",
    ]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "EncryptLayers"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.ecr_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "release" {
  name   = "push-fintech-image"
  role   = aws_iam_role.release.id
  policy = data.aws_iam_policy_document.release.json
}

data "aws_iam_policy_document" "deploy_assume" {
  for_each = toset(var.environments)
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      # the plan job runs in the GitHub environment <env>-plan, the apply job in <env>
      values = [
        "repo:${var.github_repository}:environment:${each.value}",
        "repo:${var.github_repository}:environment:${each.value}-plan",
      ]
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each             = toset(var.environments)
  name                 = "${var.name}-github-deploy-${each.value}"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume[each.value].json
  max_session_duration = 3600
}

# Terraform manages VPCs, IAM roles, KMS keys and the rest, so the deploy role is broad by
# nature; it is confined to one environment by its trust policy (the GitHub environment, with
# required reviewers for prod) and by a permissions boundary that forbids touching IAM users,
# the OIDC provider and the state of other environments.
resource "aws_iam_role_policy_attachment" "deploy_power" {
  for_each   = aws_iam_role.deploy
  role       = each.value.name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}

data "aws_iam_policy_document" "deploy_iam" {
  for_each = toset(var.environments)
  statement {
    sid = "ManageThisEnvironmentsRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:PassRole", "iam:TagRole", "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:aws:iam::${var.account_id}:role/${var.name}-${each.value}-*"]
  }
  statement {
    sid       = "StateOfThisEnvironment"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:aws:s3:::${var.state_bucket}/${each.value}/*"]
  }
  statement {
    sid     = "DenyOtherEnvironmentsState"
    effect  = "Deny"
    actions = ["s3:PutObject", "s3:DeleteObject"]
    not_resources = [
      "arn:aws:s3:::${var.state_bucket}/${each.value}/*",
      "arn:aws:s3:::${var.name}-${each.value}-*",
      "arn:aws:s3:::${var.name}-${each.value}-*/*",
    ]
  }
}

resource "aws_iam_role_policy" "deploy_iam" {
  for_each = toset(var.environments)
  name     = "terraform-${each.value}"
  role     = aws_iam_role.deploy[each.value].id
  policy   = data.aws_iam_policy_document.deploy_iam[each.value].json
}
