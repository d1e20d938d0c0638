extern alias agent;
using TlsTrust = agent::RedisShared.Security.TlsTrust;
using Microsoft.Extensions.Logging.Abstractions;
using RedisAgent.Connection;
using RedisAgent.Coordination;
using RedisAgent.Node;
using RedisAgent.Sampling;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Coordination;

/// <summary>
/// The parts the agent's coordination code is built from, for a node whose address nothing serves
/// (127.0.0.1:1): a test of them that reached Redis would fail, which is the point.
/// </summary>
internal sealed class UnservedNode : IDisposable
{
    private readonly TempDirectory _state;

    public UnservedNode(string name)
    {
        _state = new TempDirectory(name);
        var endpoint = RedisEndpoint.Parse("redis://127.0.0.1:1");
        Connection = new RedisConnection(endpoint, TlsTrust.Create(null, null), "redis-agent");
        Control = new NodeControl(Connection, endpoint);
        Terms = new TermStore(_state.Path);
    }

    public string StateDirectory => _state.Path;

    public RedisConnection Connection { get; }

    public NodeControl Control { get; }

    public TermStore Terms { get; }

    public ReportBuilder Reports(SampleBook samples, ObservationBook observations, TimeProvider time) =>
        new(Terms, samples, new NodeStatus(), observations, Control, Connection, Microsoft.Extensions.Options.Options.Create(new RedisAgent.Metrics.PlanOptions()), time, NullLogger<ReportBuilder>.Instance);

    public void Dispose()
    {
        Connection.Dispose();
        _state.Dispose();
    }
}
