{
  _config+:: {
    redisConnectionsThreshold: '100',
    redisExporterSelector: 'job="redis"',
  },
}
