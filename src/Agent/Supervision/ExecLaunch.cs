using System.Globalization;
using System.Text;
using RedisAgent.Connection;

namespace RedisAgent.Supervision;

/// <summary>The exact command line the exec driver runs, and where the server keeps its files.</summary>
internal sealed record ExecLaunch(string FileName, IReadOnlyList<string> Arguments, string? DataDirectory)
{
    /// <summary>
    /// Builds the launch. Without a configured redis.conf, one is written (mode 0600: it may hold
    /// the password, which must never appear on a command line that <c>ps</c> shows).
    /// </summary>
    public static ExecLaunch Create(string fileName, ExecOptions options, RedisEndpoint endpoint, string stateDirectory)
    {
        var arguments = new List<string>();
        string? dataDirectory = null;
        if (options.ConfigFile is { } configFile)
        {
            arguments.Add(configFile);
        }
        else
        {
            var home = Path.Combine(stateDirectory, "redis-" + endpoint.Port.ToString(CultureInfo.InvariantCulture));
            dataDirectory = Path.Combine(home, "data");
            // dump.rdb and the AOF are the data itself: Redis creates them under its own umask (often
            // 0644), so the directories around them are the owner's alone, whatever they were before.
            foreach (var directory in new[] { home, dataDirectory })
            {
                Directory.CreateDirectory(directory, OwnerOnly);
                File.SetUnixFileMode(directory, OwnerOnly);
            }
            var generated = Path.Combine(home, "redis.conf");
            WriteConfig(generated, GeneratedConfig(endpoint, dataDirectory, options));
            arguments.Add(generated);
        }

        arguments.AddRange(options.Arguments);
        // The agent owns the process: it must stay in the foreground, whatever the file says.
        arguments.Add("--daemonize");
        arguments.Add("no");
        return new ExecLaunch(fileName, arguments, dataDirectory);
    }

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    internal static string GeneratedConfig(RedisEndpoint endpoint, string dataDirectory, ExecOptions? options = null)
    {
        var config = new StringBuilder()
            .AppendLine("# Written by redis-agent (exec driver); rewritten at every agent start.")
            .AppendLine(CultureInfo.InvariantCulture, $"bind {endpoint.Host}");
        if (endpoint.Tls && options is { TlsCertFile: { } certFile, TlsKeyFile: { } keyFile, TlsCaFile: { } caFile })
        {
            // rediss://: TLS only, on the URL's port; replicas verify their primary with the CA.
            // Clients prove themselves with the password, not a certificate.
            config.AppendLine("port 0")
                .AppendLine(CultureInfo.InvariantCulture, $"tls-port {endpoint.Port}")
                .AppendLine(CultureInfo.InvariantCulture, $"tls-cert-file {Quote(certFile)}")
                .AppendLine(CultureInfo.InvariantCulture, $"tls-key-file {Quote(keyFile)}")
                .AppendLine(CultureInfo.InvariantCulture, $"tls-ca-cert-file {Quote(caFile)}")
                .AppendLine("tls-auth-clients no")
                .AppendLine("tls-replication yes");
        }
        else
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"port {endpoint.Port}");
        }

        config
            .AppendLine(CultureInfo.InvariantCulture, $"dir {Quote(dataDirectory)}")
            .AppendLine("daemonize no")
            // Redis's own lines go to stdout, where the agent reads them.
            .AppendLine("logfile \"\"");
        if (endpoint.Password is { } password)
        {
            if (endpoint.User is { } user)
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"user {user} on {Quote(">" + password)} ~* &* +@all");
                config.AppendLine("user default off");
                // A replica logs in to its primary as the same user (the resource's nodes share it).
                config.AppendLine(CultureInfo.InvariantCulture, $"masteruser {user}");
            }
            else
            {
                config.AppendLine(CultureInfo.InvariantCulture, $"requirepass {Quote(password)}");
            }

            config.AppendLine(CultureInfo.InvariantCulture, $"masterauth {Quote(password)}");
        }

        return config.ToString();
    }

    private static void WriteConfig(string path, string content)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            stream.Write(Encoding.UTF8.GetBytes(content));
        }

        File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Quotes a value for redis.conf, which reads C-style escapes inside double quotes.</summary>
    private static string Quote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => quoted.Append(@"\\"),
                '"' => quoted.Append("\\\""),
                '\n' => quoted.Append(@"\n"),
                '\r' => quoted.Append(@"\r"),
                '\t' => quoted.Append(@"\t"),
                _ => quoted.Append(c),
            };
        }

        return quoted.Append('"').ToString();
    }
}
