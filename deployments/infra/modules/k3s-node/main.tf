# Renders the node's cloud-init: k3s at a pinned version, and Argo CD, the
# signature policy-controller and the root Application through k3s's
# auto-deploy folder
# (/var/lib/rancher/k3s/server/manifests). k3s applies those files at start
# and when they change; from then on Argo CD syncs deployments/argocd, and
# this module never touches the cluster again.
locals {
  manifests = {
    "ferry-argocd.yaml" = templatefile("${path.module}/templates/argocd-helmchart.yaml.tftpl", {
      chart_version = var.argocd_chart_version
    })
    "ferry-policy-controller.yaml" = templatefile("${path.module}/templates/policy-controller-helmchart.yaml.tftpl", {
      chart_version = var.policy_controller_chart_version
    })
    "ferry-root.yaml" = templatefile("${path.module}/templates/root-app.yaml.tftpl", {
      repo_url      = var.repo_url
      repo_revision = var.repo_revision
    })
  }

  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    hostname            = var.hostname
    k3s_version         = var.k3s_version
    ssh_authorized_keys = var.ssh_authorized_keys
    manifests           = local.manifests
  })
}
