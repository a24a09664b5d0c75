class nginx::install (
  String $version = 'latest',
) {
  package { 'nginx':
    ensure => $version,
  }
  service { 'nginx':
    ensure  => running,
    require => Package['nginx'],
  }
}
