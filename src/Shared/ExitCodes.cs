namespace RedisShared.Hosting;

/// <summary>
/// Both programs' exit codes, one meaning each, from sysexits.h where one fits: systemd's
/// <c>RestartPreventExitStatus=78</c> and operators' scripts read them the same way for either
/// program. docs/configuration.md lists them.
/// </summary>
internal static class ExitCodes
{
    /// <summary>Stopped as asked, or a command did what it was asked.</summary>
    public const int Ok = 0;

    /// <summary>A command's answer is "no" (not ready, not confirmed, a tail whose agent went away).</summary>
    public const int Failure = 1;

    /// <summary>EX_USAGE: the command line is wrong; nothing was started or sent.</summary>
    public const int Usage = 64;

    /// <summary>EX_SOFTWARE: failed for a reason other than the configuration; a supervisor restarts it.</summary>
    public const int Software = 70;

    /// <summary>EX_TEMPFAIL: timed out waiting (for agents, for a coordinator); worth trying again.</summary>
    public const int TempFail = 75;

    /// <summary>EX_CONFIG: fix the configuration (the key is named); do not retry as it is.</summary>
    public const int Config = 78;
}
