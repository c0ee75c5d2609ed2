"""The local cloud's core: what moto serves and the wiring between services (delivery), the
clock, provisioning from a template, call recording and IAM evaluation, and the plugin protocol
(`plugins`) through which the emulated services of `localcloud.services` join it. It names no
workflow and no service that a plugin emulates."""
