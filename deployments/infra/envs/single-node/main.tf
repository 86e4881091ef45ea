# The machine itself: one Hetzner Cloud server (swap the provider for your
# cloud; the k3s-node module is provider-free). Run with a token in
# HCLOUD_TOKEN; state lives wherever your backend says (not configured here).
provider "hcloud" {}

module "node" {
  source = "../../modules/k3s-node"

  hostname            = var.hostname
  k3s_version         = var.k3s_version
  ssh_authorized_keys = var.ssh_authorized_keys
}

resource "hcloud_firewall" "node" {
  name = "${var.hostname}-fw"

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "22"
    source_ips = var.admin_cidrs
  }

  rule {
    direction  = "in"
    protocol   = "tcp"
    port       = "6443"
    source_ips = var.admin_cidrs
  }
}

resource "hcloud_server" "node" {
  name         = var.hostname
  server_type  = var.server_type
  image        = "debian-13"
  location     = var.location
  user_data    = module.node.cloud_init
  firewall_ids = [hcloud_firewall.node.id]
}
