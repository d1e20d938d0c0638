namespace RedisFailover.Hosting;

/// <summary>The etcd store (<c>Failover:Store=etcd</c>). Section <c>Failover:Etcd</c>.</summary>
internal sealed class EtcdOptions
{
    /// <summary>etcd's client URLs, comma-separated: <c>http://etcd-1:2379,http://etcd-2:2379,http://etcd-3:2379</c>.</summary>
    public string? Endpoints { get; set; }

    /// <summary>Every key this deployment writes starts with it, so that many deployments share one etcd.</summary>
    public string Prefix { get; set; } = "/redis-failover";

    /// <summary>
    /// The leader key's lease. A leader that cannot renew it stops commanding after two thirds of it
    /// (its own clock), before etcd could let another lead; another leads within about this long of a
    /// leader's death.
    /// </summary>
    public TimeSpan LeaderTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The URL agents and operators reach this coordinator at, told to them by the others while it leads; default the first of <c>Urls</c>.</summary>
    public string? AdvertiseUrl { get; set; }

    /// <summary>An etcd user (with <see cref="PasswordFile"/>), when etcd has authentication on.</summary>
    public string? User { get; set; }

    /// <summary>A file holding the etcd user's password (never on the command line: ps shows it to every user).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>Each etcd request's deadline: a store that does not answer within it refused the write.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>For <c>https://</c> endpoints: the CA (PEM) that signed etcd's certificates; unset: the system's trust.</summary>
    public string? CaFile { get; set; }

    /// <summary>A client certificate (PEM) for etcd's <c>--client-cert-auth</c>, with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; set; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The local address connections to etcd leave from (a host with several); default: the system's choice.</summary>
    public string? SourceAddress { get; set; }

    /// <summary>Journal lines kept per resource; older ones are removed as new ones are written.</summary>
    public int MaxJournalLines { get; set; } = 10_000;

    public IReadOnlyList<Uri> EndpointUris() =>
        [.. (Endpoints ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(e => Uri.TryCreate(e, UriKind.Absolute, out var uri) ? uri : null).OfType<Uri>()];

    /// <summary>What is wrong with these settings; <paramref name="inUse"/>: the store is etcd (else only values given and out of range are named).</summary>
    public IEnumerable<string> Problems(bool inUse)
    {
        var endpoints = (Endpoints ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (endpoints.Length == 0 && inUse)
        {
            yield return "Failover:Etcd:Endpoints is required with Failover:Store=etcd: etcd's client URLs, comma-separated (http://host:2379,...).";
        }

        foreach (var endpoint in endpoints)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Port is < 1 or > 65535 || uri.AbsolutePath != "/")
            {
                yield return $"Failover:Etcd:Endpoints: '{ResourcesOptionsValidator.Printable(endpoint)}' is not http://host:port or https://host:port.";
            }
        }

        if (Prefix is not { Length: > 1 } || Prefix[0] != '/' || Prefix.EndsWith('/') || Prefix.Any(char.IsControl))
        {
            yield return $"Failover:Etcd:Prefix '{ResourcesOptionsValidator.Printable(Prefix ?? "")}' must start with '/', not end with one, and hold no control characters (e.g. /redis-failover).";
        }

        if (LeaderTtl < TimeSpan.FromSeconds(2) || LeaderTtl > TimeSpan.FromMinutes(5))
        {
            yield return $"Failover:Etcd:LeaderTtl must be from 2 s to 5 min (got {LeaderTtl}): etcd leases count whole seconds.";
        }

        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout * 3 > LeaderTtl)
        {
            yield return $"Failover:Etcd:RequestTimeout must be greater than zero and at most a third of LeaderTtl (got {RequestTimeout}, LeaderTtl {LeaderTtl}): a renewal must be able to fail and be retried before the leader's own deadline.";
        }

        if (AdvertiseUrl is { Length: > 0 } advertise && (!Uri.TryCreate(advertise, UriKind.Absolute, out var advertised) || advertised.Scheme is not ("http" or "https")))
        {
            yield return $"Failover:Etcd:AdvertiseUrl '{ResourcesOptionsValidator.Printable(advertise)}' must be an http:// or https:// URL.";
        }

        if (User is { Length: > 0 } != PasswordFile is { Length: > 0 })
        {
            yield return "Failover:Etcd:User and Failover:Etcd:PasswordFile go together.";
        }
        else if (PasswordFile is { Length: > 0 } file && !File.Exists(file))
        {
            yield return $"Failover:Etcd:PasswordFile '{ResourcesOptionsValidator.Printable(file)}' does not exist.";
        }

        foreach (var (key, file) in new[] { ("CaFile", CaFile), ("CertFile", CertFile), ("KeyFile", KeyFile) })
        {
            if (file is { Length: > 0 } && !File.Exists(file))
            {
                yield return $"Failover:Etcd:{key} '{ResourcesOptionsValidator.Printable(file)}' does not exist.";
            }
        }

        if (CertFile is { Length: > 0 } != KeyFile is { Length: > 0 })
        {
            yield return "Failover:Etcd:CertFile and Failover:Etcd:KeyFile go together.";
        }

        if ((CaFile is { Length: > 0 } || CertFile is { Length: > 0 }) && endpoints.Any(e => e.StartsWith("http://", StringComparison.OrdinalIgnoreCase)))
        {
            yield return "Failover:Etcd:CaFile and CertFile are for https:// endpoints: an http:// one would send everything in clear text.";
        }

        if (SourceAddress is { Length: > 0 } source && !System.Net.IPAddress.TryParse(source, out _))
        {
            yield return $"Failover:Etcd:SourceAddress '{ResourcesOptionsValidator.Printable(source)}' is not an IP address.";
        }

        if (MaxJournalLines < 100)
        {
            yield return $"Failover:Etcd:MaxJournalLines must be at least 100 (got {MaxJournalLines}).";
        }
    }
}
