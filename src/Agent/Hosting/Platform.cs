// The agent supervises Linux processes (signals, file modes, systemd): it is a Linux program.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
