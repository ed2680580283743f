output "amp_workspace_arn" {
  description = "The Prometheus workspace."
  value       = aws_prometheus_workspace.this.arn
}

output "amp_workspace_endpoint" {
  description = "Its endpoint (query with Grafana's SigV4 auth; the sidecars remote-write to it)."
  value       = aws_prometheus_workspace.this.prometheus_endpoint
}

output "alerts_topic_arn" {
  description = "Where alerts go."
  value       = aws_sns_topic.alerts.arn
}
