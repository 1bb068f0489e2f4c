# Sourced by scripts/test and scripts/crash-test: makes the services the tests need reachable on
# this machine (starting them, or installing them with apt-get when running as root).
# `say` prefixes messages with the script's name.

say() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  if ! can_install; then
    say "missing: $*. Install it (Debian: apt-get install $*) or run this script as root."
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # wait_for <what> <command…>
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  say "$what did not come up"
  exit 1
}

ensure_build_deps() {
  # diesel's PostgreSQL backend links libpq; SQLite is bundled.
  if [ ! -e /usr/include/postgresql/libpq-fe.h ] && ! pkg-config --exists libpq 2>/dev/null; then
    apt_install libpq-dev pkg-config
  fi
}

ensure_postgres() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
      apt_install postgresql postgresql-client
    fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
      say "PostgreSQL is installed but has no cluster in /etc/postgresql"
      exit 1
    fi
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
  fi
  # The suite creates one database per scenario; it needs a role that may CREATE DATABASE.
  if [ -z "${LIVECART_TEST_POSTGRES:-}" ]; then
    if psql "postgres://postgres@127.0.0.1:5432/postgres" -tAc 'SELECT 1' >/dev/null 2>&1; then
      export LIVECART_TEST_POSTGRES="postgres://postgres@127.0.0.1:5432/postgres"
    elif [ "$(id -u)" = 0 ] && command -v su >/dev/null 2>&1; then
      # A stock Debian install wants a password over TCP: give the postgres role one.
      su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'livecart-test'\"" >/dev/null
      export LIVECART_TEST_POSTGRES="postgres://postgres:livecart-test@127.0.0.1:5432/postgres"
    else
      say "cannot log in to PostgreSQL as postgres; set LIVECART_TEST_POSTGRES to an admin URL"
      exit 1
    fi
  fi
  say "PostgreSQL ready"
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    say "Redis ready"
    return
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server redis-tools
  fi
  say "starting Redis"
  mkdir -p /tmp/livecart-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/livecart-redis --logfile /tmp/livecart-redis/redis.log
  wait_for Redis sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
  say "Redis ready"
}

ensure_chromium() {
  # The web client's end-to-end test (tests/api/web_client.rs) drives Debian's headless Chromium
  # through chromedriver; a CJK font lets the Chinese screenshots show their text.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk' || missing+=(fonts-wqy-microhei)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
  say "Chromium ready"
}
