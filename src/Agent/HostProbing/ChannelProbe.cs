using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Renci.SshNet;

namespace RedisAgent.HostProbing;

/// <summary>
/// Proves a host alive over a kept SSH session without starting anything on it: opens a session
/// channel (SSH_MSG_CHANNEL_OPEN, answered by sshd itself with a confirmation) and closes it, with
/// no exec, shell or subsystem request. sshd forks nothing for that, and no login shell reads an rc
/// file (a probe through <c>bash -c true</c> cost 0.3 to 2 s on a host whose <c>.bashrc</c> ran
/// <c>pyenv init</c>, and about 85 ms of sshd CPU on any host).
/// <para>
/// SSH.NET has no public call for a bare channel, so this binds its internal one by reflection, once.
/// The members it needs are kept through trimming (the attributes below); if a release of the library
/// renames them, <see cref="Available"/> is false and <see cref="HostProbe"/> proves the host with a
/// fresh connection and authentication per probe instead (still no process on the host), and says so.
/// </para>
/// </summary>
internal static class ChannelProbe
{
    private static readonly PropertyInfo? SessionProperty;
    private static readonly MethodInfo? CreateChannel;
    private static readonly MethodInfo? Open;

    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicProperties, typeof(BaseClient))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicMethods, "Renci.SshNet.Session", "Renci.SshNet")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, "Renci.SshNet.ISession", "Renci.SshNet")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicMethods, "Renci.SshNet.Channels.IChannelSession", "Renci.SshNet")]
    [DynamicDependency("Open", "Renci.SshNet.Channels.ChannelSession", "Renci.SshNet")]
    [UnconditionalSuppressMessage("Trimming", "IL2026:RequiresUnreferencedCode", Justification = "The members are kept by the DynamicDependency attributes; a miss only turns the channel probe off.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075:DynamicallyAccessedMembers", Justification = "The members are kept by the DynamicDependency attributes; a miss only turns the channel probe off.")]
    static ChannelProbe()
    {
        var assembly = typeof(BaseClient).Assembly;
        SessionProperty = typeof(BaseClient).GetProperty("Session", BindingFlags.NonPublic | BindingFlags.Instance);
        CreateChannel = assembly.GetType("Renci.SshNet.ISession")?.GetMethod("CreateChannelSession", Type.EmptyTypes);
        Open = assembly.GetType("Renci.SshNet.Channels.IChannelSession")?.GetMethod("Open", Type.EmptyTypes);
    }

    /// <summary>True when the library's bare channel could be bound.</summary>
    public static bool Available => SessionProperty is not null && CreateChannel is not null && Open is not null;

    /// <summary>Opens a session channel on <paramref name="client"/> and closes it; blocks until sshd confirms (or refuses) it.</summary>
    public static void OpenAndClose(SshClient client)
    {
        var session = SessionProperty!.GetValue(client) ?? throw new InvalidOperationException("the SSH session is not connected");
        try
        {
            var channel = CreateChannel!.Invoke(session, null);
            try
            {
                Open!.Invoke(channel, null);
            }
            finally
            {
                (channel as IDisposable)?.Dispose();
            }
        }
        catch (TargetInvocationException ex) when (ex.InnerException is { } inner)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
            throw;
        }
    }
}
