#!/usr/bin/env bash
# Install Kendali on a Debian 12 host: the controller host (controller + broker configuration) or
# a gateway (agent). docs/deploy.md is the guide this script belongs to.
#
#   deploy/install.sh controller|gateway [--prefix DIR] [--from WHEEL_OR_SRC] [--wheels DIR]
#                     [--python PY] [--venv EXISTING] [--release-trust FILE] [--no-systemd]
#                     [--no-user]
#
# Safe to run again: directories, modes and the units are brought to what is written here;
# configuration files the operator edits (controller.yaml, the broker's kendali.conf and ACL) are
# written only when missing, and a newer shipped version is put beside them as FILE.new.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(dirname "$HERE")
SERVICE_USER=kendali

usage() {
    cat <<'EOF'
usage: install.sh controller|gateway [options]

  controller      the command-center host: controller, its unit, the broker's TLS config + ACL
  gateway         a gateway: the agent and its unit (the agent's config comes from enrollment)

options:
  --prefix DIR    put every path under DIR (DIR/opt/kendali, DIR/etc/kendali, ...) and write the
                  units with those paths; systemctl is not called. For tests and staging.
  --from SRC      what to pip-install: a wheel, a source directory or a requirement
                  (default: the source tree this script is in)
  --wheels DIR    install from the wheels in DIR only, no package index (air-gapped hosts)
  --python PY     the interpreter for the virtualenv (default: python3; 3.11 or newer)
  --venv DIR      use this existing virtualenv, which already has kendali installed, instead of
                  building /opt/kendali/.venv (linked there; nothing is pip-installed). For tests
                  and for hosts whose virtualenv is built elsewhere.
  --release-trust FILE
                  gateway: the fleet's release trust file (`kendali release trust export`),
                  checked and installed as /etc/kendali/release-trust.json (0644, root's): the
                  keys the agent verifies updates with. Enrollment can also bring it.
  --no-systemd    install no systemd units (containers, hosts without systemd)
  --no-user       do not create the service user 'kendali' (files keep the installer's owner
                  when the user does not exist)
  -h, --help      this text
EOF
}

die() {
    echo "install.sh: error: $*" >&2
    exit 2
}

say() { echo "  $*"; }

ROLE=""
PREFIX=""
FROM="$SRC_ROOT"
WHEELS=""
PYTHON=python3
EXISTING_VENV=""
RELEASE_TRUST=""
WITH_SYSTEMD=1
WITH_USER=1

while [ $# -gt 0 ]; do
    case "$1" in
        controller | gateway) ROLE=$1 ;;
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
        --from) FROM=${2:?--from needs a wheel, directory or requirement}; shift ;;
        --wheels) WHEELS=${2:?--wheels needs a directory}; shift ;;
        --python) PYTHON=${2:?--python needs an interpreter}; shift ;;
        --venv) EXISTING_VENV=${2:?--venv needs a virtualenv directory}; shift ;;
        --release-trust) RELEASE_TRUST=${2:?--release-trust needs a file}; shift ;;
        --no-systemd) WITH_SYSTEMD=0 ;;
        --no-user) WITH_USER=0 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
    shift
done
[ -n "$ROLE" ] || { usage >&2; die "say which host this is: controller or gateway"; }
if [ -n "$EXISTING_VENV" ]; then
    [ -x "$EXISTING_VENV/bin/kendali" ] \
        || die "$EXISTING_VENV/bin/kendali is missing: --venv needs a virtualenv with kendali"
    EXISTING_VENV=$(cd "$EXISTING_VENV" && pwd)
fi
[ -z "$WHEELS" ] || [ -d "$WHEELS" ] || die "--wheels $WHEELS is not a directory"
if [ -n "$RELEASE_TRUST" ]; then
    [ "$ROLE" = gateway ] || die "--release-trust is for a gateway (the controller names its own)"
    [ -f "$RELEASE_TRUST" ] || die "--release-trust $RELEASE_TRUST: no such file"
fi

if [ -n "$PREFIX" ]; then
    mkdir -p "$PREFIX"
    PREFIX=$(cd "$PREFIX" && pwd)
    [ "$PREFIX" != / ] || PREFIX=""
fi
if [ -z "$PREFIX" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (or give --prefix DIR to install under DIR)"
fi

OPT=$PREFIX/opt/kendali
VENV=$OPT/.venv
ETC=$PREFIX/etc/kendali
PKI=$ETC/pki
STATE=$PREFIX/var/lib/kendali
UNITS=$PREFIX/etc/systemd/system
MOSQ=$PREFIX/etc/mosquitto
IS_ROOT=0
[ "$(id -u)" -ne 0 ] || IS_ROOT=1

# -- helpers ---------------------------------------------------------------------------------

user_exists() { getent passwd "$1" >/dev/null 2>&1; }

# own OWNER:GROUP PATH: chown only as root and only when the user and the group exist.
own() {
    local who=$1 path=$2
    if [ "$IS_ROOT" -eq 0 ] || ! user_exists "${who%%:*}" \
        || ! getent group "${who##*:}" >/dev/null 2>&1; then
        return 0
    fi
    [ "$(stat -c %U:%G "$path")" = "$who" ] || chown "$who" "$path"
}

# ensure_dir MODE OWNER:GROUP DIR
ensure_dir() {
    local mode=$1 who=$2 dir=$3
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir"
        say "created $dir"
    fi
    chmod "$mode" "$dir"
    own "$who" "$dir"
}

# put MODE SOURCE DEST: our own file (units, examples): replaced when it differs.
put() {
    local mode=$1 src=$2 dest=$3
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        return 1
    fi
    install -m "$mode" "$src" "$dest"
    say "wrote $dest"
    return 0
}

# keep MODE OWNER:GROUP SOURCE DEST: the operator's file, handled like a Debian conffile. The
# version shipped last time is remembered in $OPT/dist/: an untouched file follows a new
# shipped version, an edited one is kept and the new version is put beside it as DEST.new.
keep() {
    local mode=$1 who=$2 src=$3 dest=$4
    local last
    last=$OPT/dist/$(basename "$dest")
    if [ ! -e "$dest" ]; then
        install -m "$mode" "$src" "$dest"
        own "$who" "$dest"
        say "wrote $dest"
    elif cmp -s "$src" "$dest"; then
        rm -f "$dest.new"
    elif [ -f "$last" ] && cmp -s "$src" "$last"; then
        :  # the operator's edits; nothing new shipped
    elif [ -f "$last" ] && cmp -s "$dest" "$last"; then
        cat "$src" >"$dest"
        say "updated $dest (unchanged by you; a new version shipped)"
    elif [ ! -f "$dest.new" ] || ! cmp -s "$src" "$dest.new"; then
        install -m "$mode" "$src" "$dest.new"
        say "kept $dest (edited by you); the new shipped version is $dest.new: merge it"
    fi
    ensure_dir 0755 root:root "$OPT/dist"
    put 0644 "$src" "$last" >/dev/null || true
}

# with_prefix: the shipped absolute paths, moved under the prefix.
with_prefix() {
    sed -e "s#/opt/kendali#$OPT#g" -e "s#/etc/kendali#$ETC#g" -e "s#/var/lib/kendali#$STATE#g"
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# -- steps -----------------------------------------------------------------------------------

check_python() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
        || die "$1 is missing or older than 3.11 (Debian 12: apt-get install python3 python3-venv)"
}

service_user() {
    if [ "$WITH_USER" -eq 0 ]; then
        say "service user: skipped (--no-user)"
    elif user_exists "$SERVICE_USER"; then
        :
    elif [ "$IS_ROOT" -eq 0 ]; then
        die "creating the user '$SERVICE_USER' needs root (or pass --no-user)"
    else
        useradd --system --user-group --home-dir /var/lib/kendali --no-create-home \
            --shell /usr/sbin/nologin "$SERVICE_USER"
        say "created the system user $SERVICE_USER"
    fi
}

directories() {
    ensure_dir 0755 root:root "$OPT"
    ensure_dir 0755 root:root "$ETC"
    # Others (mosquitto) may only pass through; on the controller host its group may also write
    # (the controller re-signs the CRL beside the intermediate it signs with).
    if [ "$ROLE" = controller ]; then
        ensure_dir 0771 "root:$SERVICE_USER" "$PKI"
    else
        ensure_dir 0711 root:root "$PKI"
    fi
    ensure_dir 0700 "$SERVICE_USER:$SERVICE_USER" "$STATE"
}

virtualenv() {
    if [ -n "$EXISTING_VENV" ]; then
        if [ -L "$VENV" ] && [ "$(readlink "$VENV")" = "$EXISTING_VENV" ]; then
            :
        elif [ -e "$VENV" ] && [ ! -L "$VENV" ]; then
            die "$VENV is a virtualenv already; drop --venv, or remove it first"
        else
            ln -sfn "$EXISTING_VENV" "$VENV"
            say "linked $VENV -> $EXISTING_VENV"
        fi
        return
    fi
    check_python "$PYTHON"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV" || die "cannot create a virtualenv (apt-get install python3-venv)"
        say "created $VENV"
    fi
    local pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
    [ -z "$WHEELS" ] || pip+=(--no-index --find-links "$WHEELS")
    "${pip[@]}" "$FROM" || die "pip could not install $FROM (see above)"
    say "installed $FROM into $VENV"
}

# `kendali` on root's PATH, for the commands in docs/deploy.md.
command_link() {
    ensure_dir 0755 root:root "$PREFIX/usr/local/bin"
    local link=$PREFIX/usr/local/bin/kendali
    if [ "$(readlink "$link" 2>/dev/null)" != "$VENV/bin/kendali" ]; then
        ln -sfn "$VENV/bin/kendali" "$link"
        say "linked $link -> $VENV/bin/kendali"
    fi
}

# Serial adapters: ModemManager kept away, group dialout (the agent's supplementary group), and
# their drivers loaded at boot: the unit's DeviceAllow=char-ttyUSB/char-ttyACM only takes effect
# when that device class exists (in /proc/devices) as the agent starts, so an adapter plugged in
# later would otherwise stay closed to it until a restart.
serial_ports() {
    [ "$ROLE" = gateway ] || return 0
    ensure_dir 0755 root:root "$PREFIX/etc/udev/rules.d"
    if put 0644 "$HERE/udev/99-kendali-serial.rules" \
        "$PREFIX/etc/udev/rules.d/99-kendali-serial.rules" \
        && [ -z "$PREFIX" ] && command -v udevadm >/dev/null; then
        udevadm control --reload || true
        udevadm trigger --subsystem-match=tty || true
    fi
    ensure_dir 0755 root:root "$PREFIX/etc/modules-load.d"
    printf '# Kendali: serial adapters for the agent (deploy/install.sh)\nusbserial\ncdc_acm\n' \
        >"$TMP/modules"
    if put 0644 "$TMP/modules" "$PREFIX/etc/modules-load.d/kendali-serial.conf" \
        && [ -z "$PREFIX" ] && command -v modprobe >/dev/null; then
        modprobe -a usbserial cdc_acm || say "warning: could not load usbserial/cdc_acm now"
    fi
}

# The installer's first controller.yaml: this host's broker over mutual TLS with the identities
# `kendali ca init` issues, SQLite in the state directory, the API on loopback.
controller_config() {
    cat <<EOF
# $ETC/controller.yaml, written once by deploy/install.sh and never overwritten (docs/deploy.md).
# Field reference: docs/configuration.md; a complete example: $OPT/examples/controller.yaml.
# Check it with: kendali config validate --controller $ETC/controller.yaml
# Holding secrets (a database password, notification URLs)? The controller then refuses it
# unless it is private to its user: chown $SERVICE_USER: FILE && chmod 600 FILE.
broker:
  host: localhost             # the broker on this host; its certificate names localhost
  port: 8883
  client_id: kendali-controller
  tls:
    ca_file: $PKI/chain.pem
    cert_file: $PKI/issued/kendali-controller.crt
    key_file: $PKI/issued/kendali-controller.key
database:
  url: sqlite:///$STATE/controller.db   # or postgresql+psycopg://kendali@/kendali
config_key_file: $STATE/config.key      # encrypts configuration secrets: back it up
api:
  host: 127.0.0.1             # behind a TLS proxy; or set api.tls to serve HTTPS directly
  port: 8080
notifications:
  mqtt:                       # the alert feed connects with an identity of its own
    tls:
      ca_file: $PKI/chain.pem
      cert_file: $PKI/issued/kendali-controller-alerts.crt
      key_file: $PKI/issued/kendali-controller-alerts.key
EOF
}

configs() {
    ensure_dir 0755 root:root "$OPT/examples"
    local f
    for f in "$HERE"/examples/*.yaml; do
        put 0644 "$f" "$OPT/examples/$(basename "$f")" || true
    done
    if [ "$ROLE" = controller ]; then
        controller_config >"$TMP/controller.yaml"
        keep 0640 "root:$SERVICE_USER" "$TMP/controller.yaml" "$ETC/controller.yaml"
    fi
}

# The release keys the agent verifies updates with: public, so 0644, but root's, so the agent
# cannot change what it trusts. Checked with the agent's own loader before it is put in place.
release_trust() {
    [ -n "$RELEASE_TRUST" ] || return 0
    local check='import sys; from pathlib import Path; from common.release import TrustStore
TrustStore.load(Path(sys.argv[1]))'
    "$VENV/bin/python" -c "$check" "$RELEASE_TRUST" 2>"$TMP/trust.err" \
        || die "--release-trust $RELEASE_TRUST is not a trust file: $(tail -n 1 "$TMP/trust.err")"
    put 0644 "$RELEASE_TRUST" "$ETC/release-trust.json" || true
    own root:root "$ETC/release-trust.json"
}

# The unit's StateDirectory= always means /var/lib/NAME: under a prefix it becomes
# ReadWritePaths= on the prefixed directory (created above with the same mode).
unit_text() {
    local file=$1
    if [ -z "$PREFIX" ]; then
        cat "$HERE/systemd/$file"
        return
    fi
    with_prefix <"$HERE/systemd/$file" | awk -v state="$STATE" '
        /^StateDirectory=/ { print "ReadWritePaths=" state; next }
        /^(StateDirectoryMode|ConfigurationDirectory|ConfigurationDirectoryMode)=/ { next }
        { print }'
}

# A gateway gets the agent's unit and the drop-in that starts it through its launcher (self-
# update with rollback, docs/agent-update.md). The controller host gets the drop-in that lets
# the controller write the CRL and the path unit that reloads the broker, after a check,
# whenever the CRL changes.
units() {
    local files=(kendali-agent.service kendali-agent.service.d/launcher.conf)
    local enable=(kendali-agent.service) changed=0 f
    if [ "$ROLE" = controller ]; then
        files=(kendali-controller.service kendali-controller.service.d/pki.conf
            kendali-crl-reload.path kendali-crl-reload.service)
        enable=(kendali-controller.service kendali-crl-reload.path)
    fi
    if [ "$WITH_SYSTEMD" -eq 0 ]; then
        say "systemd units: skipped (--no-systemd)"
        return
    fi
    ensure_dir 0755 root:root "$UNITS"
    for f in "${files[@]}"; do
        [ "$(dirname "$f")" = . ] || ensure_dir 0755 root:root "$UNITS/$(dirname "$f")"
        unit_text "$f" >"$TMP/unit"
        if put 0644 "$TMP/unit" "$UNITS/$f"; then changed=1; fi
    done
    if [ -n "$PREFIX" ] || [ ! -d /run/systemd/system ]; then
        return
    fi
    [ "$changed" -eq 0 ] || systemctl daemon-reload
    for f in "${enable[@]}"; do
        systemctl is-enabled --quiet "$f" 2>/dev/null && continue
        if [ "$f" = kendali-crl-reload.path ]; then
            systemctl enable --now --quiet "$f"
        else
            systemctl enable --quiet "$f"
        fi
        say "enabled $f"
    done
}

# The shipped broker config. Its paths are already the layout `kendali ca init --dir
# /etc/kendali/pki` writes; only a prefix moves them. It sets no persistence_location: Debian's
# own mosquitto.conf sets it and includes conf.d/*.conf, and Mosquitto refuses a second one.
broker_config_text() {
    with_prefix <"$HERE/mosquitto/kendali.conf" \
        | sed -e "s#^acl_file /etc/mosquitto/#acl_file $MOSQ/#"
}

broker() {
    [ "$ROLE" = controller ] || return 0
    ensure_dir 0755 root:root "$MOSQ"
    ensure_dir 0755 root:root "$MOSQ/conf.d"
    keep 0644 root:root "$HERE/mosquitto/kendali.acl" "$MOSQ/kendali.acl"
    broker_config_text >"$TMP/kendali.conf"
    keep 0644 root:root "$TMP/kendali.conf" "$MOSQ/conf.d/kendali.conf"
    local main=$MOSQ/mosquitto.conf
    if [ -f "$main" ] && ! grep -q "^include_dir $MOSQ/conf.d" "$main"; then
        say "warning: $main does not include $MOSQ/conf.d: add 'include_dir $MOSQ/conf.d'"
    fi
}

# Once the CA directory is here (copied from the offline machine, without root/): the broker's
# key for the mosquitto user (Mosquitto reads it after dropping root), the controller's keys
# and the intermediate (enrollment signs with it) for the service user, the rest readable.
pki_permissions() {
    [ -f "$PKI/chain.pem" ] || return 0
    if [ -d "$PKI/root" ]; then
        say "WARNING: $PKI/root holds the fleet's root key: move it to offline storage"
    fi
    local f
    for f in "$PKI/chain.pem" "$PKI/ca.crt" "$PKI/fleet.crl" "$PKI/issued.json" \
        "$PKI"/issued/*.crt; do
        [ ! -f "$f" ] || chmod 0644 "$f"
    done
    [ ! -d "$PKI/issued" ] || chmod 0711 "$PKI/issued"
    for f in "$PKI/ca.key" "$PKI"/issued/*.key; do
        [ ! -f "$f" ] || chmod 0600 "$f"
    done
    [ "$ROLE" = controller ] || return 0
    [ ! -f "$PKI/issued/broker.key" ] || own mosquitto:mosquitto "$PKI/issued/broker.key"
    for f in "$PKI/ca.key" "$PKI"/issued/kendali-controller*.key; do
        [ ! -f "$f" ] || own "$SERVICE_USER:$SERVICE_USER" "$f"
    done
}

next_steps() {
    local k=$VENV/bin/kendali
    echo
    echo "Kendali $ROLE installed under ${PREFIX:-/}. Next (docs/deploy.md):"
    if [ "$ROLE" = controller ]; then
        cat <<EOF
  1. Copy the CA directory from the offline machine to $PKI (everything but root/),
     then run this installer again: it sets the keys' owners and modes.
  2. Review $ETC/controller.yaml (database, API, agencies, notifications):
       $k config validate --controller $ETC/controller.yaml
  3. Start the broker and the controller (kendali-crl-reload.path already watches the CRL):
       systemctl restart mosquitto && systemctl start kendali-controller
       journalctl -u kendali-controller -f   # 'connected to broker', 'api listening on ...'
  4. The first administrator (as the service user, so the database stays its own):
       runuser -u $SERVICE_USER -- $k users add admin --role admin --all-agencies \\
         -c $ETC/controller.yaml
  5. Enrollment tokens for the gateways: docs/enrollment.md
EOF
    else
        cat <<EOF
  1. Enroll this gateway with the token from the command center (docs/enrollment.md):
       $k provision enroll --controller https://CONTROLLER --token TOKEN
  2. Survey the site's cameras and sensors: docs/survey.md
  3. Start the agent and check it: systemctl start kendali-agent; docs/verify.md
EOF
        [ -f "$ETC/release-trust.json" ] || echo "  The agent has no release trust file yet" \
            "($ETC/release-trust.json): enrollment brings it when the controller offers one," \
            "or run this again with --release-trust FILE; until then it refuses every update."
    fi
}

echo "Installing Kendali ($ROLE) under ${PREFIX:-/}"
service_user
directories
virtualenv
command_link
configs
release_trust
serial_ports
units
broker
pki_permissions
next_steps
