"""Kubernetes NetworkPolicy provider (see docs/providers/kubernetes.md)."""
