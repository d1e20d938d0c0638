using System.Globalization;
using Grpc.Core;
using RedisFailover.Coordination;
using RedisFailover.Hosting;
using RedisFailover.Protos;
using RedisFailover.Store;

namespace RedisFailover.Services;

/// <summary>The operators' API: status, incidents with their journal, switchover, settings, pause, and the primary's address as a stream.</summary>
internal sealed class AdminService(Coordinator coordinator, ICoordinatorStore store, PrimaryPublisher publisher, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime) : Admin.AdminBase
{
    public override Task<ResourceStatus> GetStatus(ResourceRequest request, ServerCallContext context) =>
        Task.FromResult(Status(Find(request.Resource)));

    public override Task<IncidentList> ListIncidents(ResourceRequest request, ServerCallContext context)
    {
        // Read from the store, so any coordinator answers the same (with etcd, followers too).
        var name = coordinator.Configured.FirstOrDefault(n => n == request.Resource)
            ?? throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"unknown resource '{WireLimits.Printable(request.Resource, 80)}'"));
        try
        {
            return Task.FromResult(Incidents(store, name));
        }
        catch (IOException ex)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, $"the store does not answer: {WireLimits.Printable(ex.Message, 200)}"));
        }
    }

    /// <summary>The resource's incidents with their journal lines, read from the store (throws <see cref="IOException"/> when it does not answer).</summary>
    internal static IncidentList Incidents(ICoordinatorStore store, string name)
    {
        var list = new IncidentList();
        var journal = store.Journal(name);
        foreach (var group in journal.Where(r => r.Incident.Length > 0).GroupBy(r => r.Incident))
        {
            var incident = new Incident
            {
                Id = group.Key,
                Resource = name,
                Opened = ResourceCoordinator.Stamp(group.First().At),
                Outcome = group.LastOrDefault(r => r.Kind == "closed")?.Text ?? "open",
            };
            if (group.LastOrDefault(r => r.Kind == "closed") is { } closed)
            {
                incident.Closed = ResourceCoordinator.Stamp(closed.At);
            }

            incident.Entries.AddRange(group.Select(r => new JournalEntry { At = ResourceCoordinator.Stamp(r.At), Term = r.Term, Kind = r.Kind, Text = r.Text }));
            list.Incidents.Add(incident);
        }

        return list;
    }

    public override Task<ResourceStatus> Promote(PromoteRequest request, ServerCallContext context)
    {
        var resource = Find(request.Resource);
        if (!resource.Machine.Knows(request.Node))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"resource '{WireLimits.Printable(request.Resource, 80)}' has no node '{WireLimits.Printable(request.Node, 80)}'"));
        }

        var caller = AuthInterceptor.CallerOf(context);
        var refusal = resource.Request((machine, now) =>
        {
            var effects = machine.PromoteRequested(request.Node, now, out var why);
            Effect asked = new JournalLine("operator", why is null
                ? $"{caller.Name} ({caller.Proof}) asked to promote {request.Node}"
                : $"{caller.Name} ({caller.Proof}) asked to promote {request.Node}: refused, {why}");
            return ([asked, .. effects], why);
        });
        if (refusal is not null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, refusal));
        }

        return Task.FromResult(Durable(resource));
    }

    public override async Task<ResourceStatus> Switchover(SwitchoverRequest request, ServerCallContext context)
    {
        var resource = Find(request.Resource);
        var to = request.To.Length > 0 ? request.To : null;
        if (to is not null && !resource.Machine.Knows(to))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"resource '{WireLimits.Printable(request.Resource, 80)}' has no node '{WireLimits.Printable(to, 80)}'"));
        }

        if (request.CatchUpTimeoutMs is < 0 or > 60_000)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"catch_up_timeout_ms must be 0 (5000) to 60000 (got {request.CatchUpTimeoutMs})"));
        }

        var caller = AuthInterceptor.CallerOf(context);
        var catchUp = TimeSpan.FromMilliseconds(request.CatchUpTimeoutMs == 0 ? 5000 : request.CatchUpTimeoutMs);
        // A SIGTERM (or the caller leaving) during the wait rolls it back at once: the primary is never left paused by a coordinator that is going away.
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping, context.CancellationToken);
        if (await resource.SwitchoverAsync(to, catchUp, $"{caller.Name} ({caller.Proof})", abandon.Token).ConfigureAwait(false) is { } refusal)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, refusal));
        }

        return Durable(resource);
    }

    public override Task<ResourceStatus> SetSettings(SetSettingsRequest request, ServerCallContext context)
    {
        var resource = Find(request.Resource);
        var settings = request.Settings ?? new Settings();
        if (settings.HasTimeoutSeconds && settings.TimeoutSeconds is < 0 or > ResourcesOptionsValidator.MaxTimeoutSeconds)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"timeout_seconds must be 0 (never) to {ResourcesOptionsValidator.MaxTimeoutSeconds}"));
        }

        var policies = ResourcesOptionsValidator.MaxmemoryPolicies;
        if (settings.HasMaxmemoryPolicy && !policies.Contains(settings.MaxmemoryPolicy))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"maxmemory_policy must be one of {string.Join(", ", policies)}"));
        }

        // The record (with the new settings) is written before the nodes are told, like a term.
        resource.Step((machine, now) =>
        {
            var caller = AuthInterceptor.CallerOf(context);
            var verb = settings.HasTimeoutSeconds && !settings.HasMaxmemoryPolicy ? "timeout" : !settings.HasTimeoutSeconds && settings.HasMaxmemoryPolicy ? "maxmemory" : "settings";
            var effects = machine.SettingsChanged(
                new ResourceSettings(settings.HasTimeoutSeconds ? settings.TimeoutSeconds : null, settings.HasMaxmemoryPolicy ? settings.MaxmemoryPolicy : null),
                now,
                ResourceCoordinator.Origin($"{caller.Name} ({caller.Proof})", verb, now));
            var asked = new JournalLine("operator", $"{caller.Name} ({caller.Proof}) set {Describe(settings)}");
            return [asked, new PersistTerm(machine.Term, machine.Primary), .. effects];
        });
        return Task.FromResult(Durable(resource));
    }

    public override Task<ResourceStatus> AddNode(AddNodeRequest request, ServerCallContext context)
    {
        var resource = Find(request.Resource);
        var problem = !Hosting.ResourcesOptionsValidator.IsNodeName(request.Node) ? $"node must be 1 to 64 letters, digits, '-', '_' or '.' (got '{WireLimits.Printable(request.Node, 80)}')"
            : !Hosting.ResourcesOptionsValidator.IsAddress(request.Address) ? $"address must be host:port, the port from 1 to 65535 (got '{WireLimits.Printable(request.Address, 80)}')"
            : request.Zone.Length > 64 || request.Zone.Any(char.IsControl) ? "zone must be at most 64 printable characters"
            : null;
        if (problem is not null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, problem));
        }

        var caller = AuthInterceptor.CallerOf(context);
        if (resource.AddNode(new NodeSpec(request.Node, request.Address, request.Zone), $"{caller.Name} ({caller.Proof})") is { } refusal)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, refusal));
        }

        return Task.FromResult(Durable(resource));
    }

    public override Task<ResourceStatus> RemoveNode(RemoveNodeRequest request, ServerCallContext context)
    {
        var resource = Find(request.Resource);
        if (!resource.Machine.Knows(request.Node))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"resource '{WireLimits.Printable(request.Resource, 80)}' has no node '{WireLimits.Printable(request.Node, 80)}'"));
        }

        var caller = AuthInterceptor.CallerOf(context);
        if (resource.RemoveNode(request.Node, request.Force, $"{caller.Name} ({caller.Proof})") is { } refusal)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, refusal));
        }

        return Task.FromResult(Durable(resource));
    }

    public override Task<ResourceStatus> PauseFailover(ResourceRequest request, ServerCallContext context) => SetPaused(request, paused: true, AuthInterceptor.CallerOf(context));

    public override Task<ResourceStatus> ResumeFailover(ResourceRequest request, ServerCallContext context) => SetPaused(request, paused: false, AuthInterceptor.CallerOf(context));

    public override async Task WatchPrimary(ResourceRequest request, IServerStreamWriter<PrimaryAddress> responseStream, ServerCallContext context)
    {
        var resource = Find(request.Resource);
        var (reader, subscription) = publisher.Watch(resource.Name);
        using (subscription)
        {
            try
            {
                // Ends with the call, or when the coordinator stops (the watcher reconnects).
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
                await foreach (var address in reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
                {
                    await responseStream.WriteAsync(address, stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested)
            {
            }
        }
    }

    private static string Describe(Settings settings) =>
        string.Join(" and ", new[]
        {
            settings.HasTimeoutSeconds ? $"timeout {settings.TimeoutSeconds}" : null,
            settings.HasMaxmemoryPolicy ? $"maxmemory-policy {settings.MaxmemoryPolicy}" : null,
        }.OfType<string>().DefaultIfEmpty("no setting"));

    private Task<ResourceStatus> SetPaused(ResourceRequest request, bool paused, Trust.Caller caller)
    {
        var resource = Find(request.Resource);
        resource.Step((machine, _) =>
        {
            machine.SetPaused(paused);
            return [new PersistTerm(machine.Term, machine.Primary), new JournalLine("pause", paused ? $"automatic failover paused by {caller.Name} ({caller.Proof})" : $"automatic failover resumed by {caller.Name} ({caller.Proof})")];
        });
        return Task.FromResult(Durable(resource));
    }

    private ResourceCoordinator Find(string name) =>
        coordinator[name]
        ?? (!coordinator.Leadership.Leads ? throw AgentLinkService.NotLeader(coordinator.Leadership)
            : coordinator.Configured.Contains(name, StringComparer.Ordinal)
                ? throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "this coordinator has just begun to lead and is taking up its resources: try again"))
                : throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"unknown resource '{WireLimits.Printable(name, 80)}'")));

    /// <summary>The status after a change, or Unavailable when the store did not take it (the change waits, in order, and is carried out once the store takes writes).</summary>
    private static ResourceStatus Durable(ResourceCoordinator resource) =>
        resource.HeldEffects == 0
            ? Status(resource)
            : throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable,
                "the coordinator's store refuses writes: the change is held, and will be written and carried out in order once the store takes writes again"));

    internal static ResourceStatus Status(ResourceCoordinator resource) => resource.Read(machine =>
    {
        var status = new ResourceStatus
        {
            Resource = machine.Resource,
            StateName = machine.State.ToString(),
            State = ToProto(machine.State),
            Term = machine.Term,
            Primary = machine.Primary ?? "",
            PrimaryAddress = machine.PrimaryAddress ?? "",
            Paused = machine.Paused,
            Settings = ResourceCoordinator.ToProto(machine.Settings),
            Reason = machine.Reason,
            NodesOrigin = machine.Origins.Nodes ?? "",
            TimeoutOrigin = machine.Origins.Timeout ?? "",
            MaxmemoryPolicyOrigin = machine.Origins.MaxMemoryPolicy ?? "",
        };
        status.FailoverBlockers.AddRange(machine.FailoverBlockers().Select(b => b.Text));
        if (resource.StoreBlocker is { } store)
        {
            status.FailoverBlockers.Add(store.Text);
        }

        var inSync = machine.InSyncNodes.ToHashSet(StringComparer.Ordinal);
        foreach (var node in machine.Nodes)
        {
            var view = new Protos.NodeStatus
            {
                Node = node.Spec.Name,
                Address = node.Spec.Address,
                Zone = node.Spec.Zone,
                Role = node.Report?.Role ?? NodeRole.Unknown,
                RoleName = (node.Report?.Role ?? NodeRole.Unknown).LegacyName(),
                Connected = node.Connected,
                ReplicationOffset = node.Report?.ReplicationOffset ?? 0,
                LinkUp = node.Report?.LinkUp ?? false,
                LocalVerdict = node.Report?.LocalVerdict ?? Verdict.Unknown,
                LocalVerdictName = (node.Report?.LocalVerdict ?? Verdict.Unknown).ToString(),
                InSync = node.Spec.Name != machine.Primary && inSync.Contains(node.Spec.Name),
                RedisVersion = node.Report?.RedisVersion ?? "",
                Persistence = node.Report?.Persistence ?? "",
            };
            if (node.Report?.Plan is { } plan)
            {
                view.PlanUsage = new PlanUsage
                {
                    Plan = plan.Plan,
                    UsedMemoryBytes = plan.UsedMemory,
                    MemoryLimitBytes = plan.MemoryLimit ?? 0,
                    ActiveConnections = plan.Connections,
                    ConnectionLimit = plan.ConnectionLimit ?? 0,
                    SampledAt = ResourceCoordinator.Stamp(plan.At),
                };
            }

            if (node.ReportAt is { } at)
            {
                view.LastReport = ResourceCoordinator.Stamp(at);
            }

            status.Nodes.Add(view);
        }

        return status;
    });

    /// <summary>Every state the machine has, on the wire; a state added to one side and not the other fails the build here (CS8509).</summary>
#pragma warning disable CS8524
    internal static Protos.ResourceState ToProto(Coordination.ResourceState state) => state switch
    {
        Coordination.ResourceState.Healthy => Protos.ResourceState.Healthy,
        Coordination.ResourceState.Confirming => Protos.ResourceState.Confirming,
        Coordination.ResourceState.Rebuilding => Protos.ResourceState.Rebuilding,
        Coordination.ResourceState.Degraded => Protos.ResourceState.Degraded,
    };
#pragma warning restore CS8524
}
