{
  grafanaDashboards+:: {
    'redis-overview.json': (import 'redis-overview.json'),
  },
}
