output "cloud_init" {
  description = "The cloud-init user data for the node."
  value       = local.cloud_init
}

output "manifests" {
  description = "The auto-deploy manifests, by file name."
  value       = local.manifests
}
