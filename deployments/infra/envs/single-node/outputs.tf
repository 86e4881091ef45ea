output "ipv4_address" {
  description = "Public IPv4 address of the node."
  value       = hcloud_server.node.ipv4_address
}
