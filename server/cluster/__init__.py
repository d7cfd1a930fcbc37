"""Several replicas behind HAProxy with a shared Redis store (see launch.py)."""
from .haproxy import SESSION_HEADER, haproxy_config
from .launch import Cluster, ClusterError

__all__ = ["Cluster", "ClusterError", "SESSION_HEADER", "haproxy_config"]
