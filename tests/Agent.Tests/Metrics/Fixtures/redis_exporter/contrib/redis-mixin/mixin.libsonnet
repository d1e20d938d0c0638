(import 'alerts/redis.libsonnet') +
(import 'rules/redis.libsonnet') +
(import 'dashboards/redis.libsonnet') +
(import 'config.libsonnet')
