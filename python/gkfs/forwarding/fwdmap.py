"""What `gkfs-ctl fwd-map` does: settings -> hosts and jobs -> policy -> map file."""

from __future__ import annotations

from gkfs.forwarding import hostlist, jobs, mapfile, policies

__all__ = ["FwdMapError", "build", "write"]


class FwdMapError(ValueError):
    """The map cannot be made; the message says what to fix."""


def build(config) -> tuple[dict[str, int], list[str]]:
    """(mapping, header comments) for a ForwardingMapSettings. Raises FwdMapError or
    OSError."""
    try:
        policy = policies.load_policy(config.policy)
        job_list = jobs.read_jobs(config.jobs) if config.jobs else []
        hosts = hostlist.expand(config.hosts) if config.hosts else []
        request = policies.request_from(hosts, config.io_nodes, job_list)
        mapping = policies.allocate(policy, request)
        comments = [f"gkfs forwarding map, policy {config.policy}: {len(request.hosts)} "
                    f"hosts on {config.io_nodes} I/O nodes"]
        comments += policy.comments(request, mapping)
    except (hostlist.HostlistError, jobs.JobsError, policies.PolicyError) as e:
        raise FwdMapError(str(e)) from None
    return mapping, comments


def write(config) -> str:
    """Writes the map atomically; returns a one-line summary."""
    mapping, comments = build(config)
    try:
        mapfile.write_map(config.out, mapping, comments)
    except mapfile.MapError as e:
        raise FwdMapError(str(e)) from None
    used = len(set(mapping.values()))
    return (f"wrote {config.out}: {len(mapping)} hosts on {used} of {config.io_nodes} I/O "
            f"nodes (policy {config.policy})")
