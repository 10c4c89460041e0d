"""The test bed: real dockerd, systemd user manager and D-Bus, isolated from the host."""
