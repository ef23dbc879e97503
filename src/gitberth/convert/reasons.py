"""Why each compose service key that has no gitberth field is not carried over.

Keys gitberth refuses on purpose (they would give whoever merges a manifest root on the host)
are :data:`REFUSED`; the rest are :data:`NOT_CARRIED` with what to do instead. A key in neither
table and not handled by the converter is reported as unknown, so nothing is dropped silently.
"""

from __future__ import annotations

HOST_PRIVILEGES = "gitberth never grants host privileges"

REFUSED = {
    "privileged": HOST_PRIVILEGES,
    "cap_add": f"{HOST_PRIVILEGES} (no added capabilities)",
    "devices": f"{HOST_PRIVILEGES} (no host devices)",
    "device_cgroup_rules": f"{HOST_PRIVILEGES} (no host devices)",
    "use_api_socket": "the Docker engine socket gives root on the host",
    "sysctls": f"{HOST_PRIVILEGES} (some kernel parameters change the host's kernel)",
    "cgroup_parent": f"{HOST_PRIVILEGES} (it would move the container out of its limits)",
}
"""Refused whatever their value (``privileged: false`` is simply the default)."""

HOST_NAMESPACES = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
"""``host`` is refused for these; any other value is not carried."""

NOT_CARRIED = {
    "build": "gitberth deploys images; build and push first",
    "depends_on": "services start in parallel; give the dependency a healthcheck and let the "
    "service retry until the dependency answers",
    "links": "not needed: services of one app reach each other by service name",
    "external_links": "apps reach each other only through a shared network (`networks:`)",
    "container_name": "gitberth names containers <app>-<service>-<n>; other services reach it "
    "by its service name",
    "hostname": "the service name is its DNS name on the app's network",
    "domainname": "the service name is its DNS name on the app's network",
    "extra_hosts": "gitberth has no field for host file entries",
    "dns": "containers use the engine's DNS",
    "dns_search": "containers use the engine's DNS",
    "dns_opt": "containers use the engine's DNS",
    "mac_address": "gitberth lets the engine assign addresses",
    "expose": "not needed: services of one app reach every port of each other on the app's network",
    "env_file": "secrets belong in the gitberth secret store, not in files next to the "
    "manifest: upload the file's variables as a secret (curl -X POST $API/secrets) and list it "
    "in envFrom; plain settings go under env",
    "configs": "bake the file into the image, or upload it as a secret and mount it with "
    "secretFiles",
    "logging": "containers log to the engine's default driver",
    "profiles": "gitberth runs every service of the manifest; remove the ones you do not want",
    "extends": "resolve it first: `docker compose config` prints the file with extends merged",
    "cap_drop": "gitberth has no field for dropping capabilities",
    "read_only": "gitberth has no field for a read-only root filesystem",
    "tmpfs": "gitberth mounts named volumes and allowed host paths only",
    "shm_size": "gitberth has no field for it",
    "ulimits": "gitberth limits memory, cpus and pids (resources) only",
    "init": "gitberth has no field for it; give the image a PID 1 that handles signals",
    "tty": "services run without a terminal",
    "stdin_open": "services run without standard input",
    "platform": "the engine runs the image built for its own platform",
    "runtime": "containers use the engine's default runtime",
    "isolation": "containers use the engine's default isolation",
    "group_add": "gitberth has no field for it; `user` takes user:group",
    "oom_score_adj": "gitberth has no field for it",
    "oom_kill_disable": "gitberth has no field for it",
    "mem_reservation": "gitberth sets limits (resources), not reservations",
    "mem_swappiness": "gitberth has no field for it",
    "memswap_limit": "gitberth limits memory, cpus and pids (resources) only",
    "cpu_shares": "gitberth limits cpus (resources.cpus), not shares",
    "cpu_quota": "use cpus, which gitberth carries as resources.cpus",
    "cpu_period": "use cpus, which gitberth carries as resources.cpus",
    "cpuset": "gitberth has no field for pinning CPUs",
    "cpu_count": "use cpus, which gitberth carries as resources.cpus",
    "cpu_percent": "use cpus, which gitberth carries as resources.cpus",
    "cpu_rt_runtime": "gitberth has no field for it",
    "cpu_rt_period": "gitberth has no field for it",
    "blkio_config": "gitberth has no field for it",
    "storage_opt": "gitberth has no field for it",
    "gpus": "gitberth has no field for devices",
    "credential_spec": "gitberth has no field for it",
    "volumes_from": "mount the same named volume in both services instead",
    "attach": "read logs with docker logs or gitberth's status",
    "develop": "compose watch is a development tool; gitberth deploys committed images",
    "post_start": "gitberth has no lifecycle hooks; run it in the image's entrypoint",
    "pre_stop": "gitberth has no lifecycle hooks; handle the stop signal in the process",
    "annotations": "gitberth has no field for it; use labels",
    "label_file": "write the labels under labels",
    "driver_opts": "gitberth has no field for it",
    "provider": "gitberth runs containers only",
    "models": "gitberth runs containers only",
}

DEPLOY_NOT_CARRIED = {
    "mode": "gitberth runs `replicas` containers of a service (no global mode)",
    "labels": "swarm service labels; container labels go under labels",
    "placement": "gitberth drives one engine",
    "endpoint_mode": "services are reached by service name on the app's network",
    "rollback_config": "a failed start-first rollout keeps the old container by itself",
}
