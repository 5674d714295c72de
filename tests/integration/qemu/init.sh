#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the vscard test guest (see build_guest.py). Runs as PID 1 from an
# initramfs: no udev, no systemd. The host test chooses what to run with the
# kernel command line and reads the results from the serial console between
# "@@VSCARD" markers (tests/integration/qemu/guest_runner.py parses them).
#
# Kernel command line parameters (names carry a dot so the kernel treats them
# as module parameters and neither passes them to init nor complains):
#   vscard.steps=a,b,...   steps in order: readers atr info objects sign apdu each watch;
#                          atr, info, apdu and each take a reader index as STEP@N
#                          (default reader 0)
#   vscard.pin=PIN         PIN for `sign` (default 77777777)
#   vscard.sign_id=ID      key id for `sign` (default: the first private key)
#   vscard.mech=MECH       pkcs11-tool mechanism for `sign` (default SHA256-RSA-PKCS)
#   vscard.apdus=H1,H2     hex APDUs for `apdu`, sent in one opensc-tool -s run;
#                          `each` sends them one opensc-tool run per APDU, as steps
#                          each-1, each-2, ... (a failed exchange stops none of the
#                          later ones); STEP@N reads vscard.apdus_N instead
#   vscard.readers=N       how many CCID readers QEMU gives (default 1): wait for all
#   vscard.watch=SECONDS   how long `watch` reports card insertion/removal
#   vscard.wait=SECONDS    how long to wait for the reader and for the card
#   vscard.debug=1         run pcscd with -d and print its log at the end
#   vscard.usb=MODULE      USB host driver chain to load (default uhci-hcd; also
#                          ehci-pci, ohci-pci, xhci-pci), matching QEMU's controller
/bin/busybox mkdir -p /proc /sys /dev /tmp /run/pcscd
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
exec 0</dev/console 1>/dev/console 2>&1

P11=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
SIGN_DATA="vscard guest signature test"

now() { cut -d. -f1 /proc/uptime; }  # whole seconds since boot
mark() { echo "@@VSCARD $* t=$(cut -d' ' -f1 /proc/uptime)"; }
param() {  # param NAME DEFAULT: value of vscard.NAME= on the command line
    v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^vscard\.$1=//p" | tail -n 1)
    echo "${v:-$2}"
}
finish() {
    if [ "$(param debug 0)" = 1 ] && [ -f /tmp/pcscd.log ]; then
        echo "@@VSCARD-BEGIN pcscd-log"; cat /tmp/pcscd.log; echo "@@VSCARD-END pcscd-log rc=0"
    fi
    mark "done $*"
    sync
    poweroff -f
    # Not reached unless ACPI power-off failed; QEMU runs with -no-reboot.
    echo b >/proc/sysrq-trigger
}
step() {  # step NAME CMD...: run CMD, its output between markers
    name=$1; shift
    echo "@@VSCARD-BEGIN $name"
    "$@" 2>&1
    rc=$?
    echo "@@VSCARD-END $name rc=$rc"
    return $rc
}

WAIT=$(param wait 60)
mark "boot kernel=$(uname -r)"

USB=$(param usb uhci-hcd)
[ -f "/modules/load-$USB" ] || { mark "error no module chain for vscard.usb=$USB"; finish fail; }
for m in $(cat "/modules/load-$USB"); do
    insmod "/modules/$m" || { mark "error insmod $m failed"; finish fail; }
done

# The CCID reader is a USB interface of class 0x0b (CCID spec 1.1, 5.1).
# pcscd enumerates readers once at start when there is no udev daemon to tell
# it about hotplug, so it must start after the interface exists.
READERS=$(param readers 1)
find_reader() {
    n=0
    for f in /sys/bus/usb/devices/*/bInterfaceClass; do
        [ "$(cat "$f" 2>/dev/null)" = 0b ] && n=$((n + 1))
    done
    [ $n -ge "$READERS" ]
}
end=$(( $(now) + WAIT ))
until find_reader; do
    [ "$(now)" -ge $end ] && { mark "error fewer than $READERS CCID readers after ${WAIT}s"; finish fail; }
    usleep 100000
done
mark "reader-usb"

if [ "$(param debug 0)" = 1 ]; then
    pcscd -f -d >/tmp/pcscd.log 2>&1 &
else
    pcscd -f >/tmp/pcscd.log 2>&1 &
fi
end=$(( $(now) + WAIT ))
until [ -S /run/pcscd/pcscd.comm ] && [ "$(opensc-tool -l 2>/dev/null | grep -c '^[0-9]')" -ge "$READERS" ]; do
    [ "$(now)" -ge $end ] && { mark "error pcscd has no reader after ${WAIT}s"; cat /tmp/pcscd.log; finish fail; }
    usleep 100000
done
mark "pcscd-ready"

wait_card() {  # wait_card [READER]; marks name readers other than 0
    in=""
    [ "${1:-0}" = 0 ] || in=" in reader $1"
    end=$(( $(now) + WAIT ))
    until opensc-tool -r "${1:-0}" -a >/dev/null 2>&1; do
        [ "$(now)" -ge $end ] && { mark "error no card$in after ${WAIT}s"; return 1; }
        usleep 200000
    done
    mark "card-present$in"
}

# watch SECONDS: report every change of the card state in reader 0.
watch_card() {
    last=none
    end=$(( $(now) + $1 ))
    while [ "$(now)" -lt $end ]; do
        if atr=$(opensc-tool -r 0 -a 2>/dev/null); then state="present $atr"; else state=absent; fi
        if [ "$state" != "$last" ]; then mark "card $state"; last=$state; fi
        usleep 250000
    done
}

sign() {
    pin=$(param pin 77777777)
    mech=$(param mech SHA256-RSA-PKCS)
    id=$(param sign_id "")
    if [ -z "$id" ]; then
        id=$(pkcs11-tool --module $P11 -O --type privkey --login --pin "$pin" 2>/dev/null \
             | sed -n 's/^ *ID: *//p' | head -n 1)
    fi
    [ -n "$id" ] || { echo "no private key found"; return 1; }
    printf '%s' "$SIGN_DATA" >/tmp/data
    echo "sign-id: $id"
    echo "sign-mechanism: $mech"
    echo "sign-data-hex: $(od -An -tx1 -v /tmp/data | tr -d ' \n')"
    pkcs11-tool --module $P11 --sign --login --pin "$pin" --id "$id" -m "$mech" \
        -i /tmp/data -o /tmp/sig || return 1
    echo "signature-hex: $(od -An -tx1 -v /tmp/sig | tr -d ' \n')"
    # The certificate of the same id, so the host can verify the signature.
    pkcs11-tool --module $P11 --read-object --type cert --id "$id" -o /tmp/cert.der || return 1
    echo "cert-hex: $(od -An -tx1 -v /tmp/cert.der | tr -d ' \n')"
}

apdu() {  # apdu READER PARAM
    r=$1 p=$2
    set --
    for a in $(param "$p" "" | tr ',' ' '); do set -- "$@" -s "$a"; done
    [ $# -gt 0 ] || { echo "vscard.$p is empty"; return 1; }
    opensc-tool -r "$r" "$@"
}

each() {  # each STEP READER PARAM: one opensc-tool run (and step) per APDU
    i=0
    for a in $(param "$3" "" | tr ',' ' '); do
        i=$((i + 1))
        step "$1-$i" opensc-tool -r "$2" -s "$a" || status=fail
    done
    [ $i -gt 0 ] || { mark "error vscard.$3 is empty"; status=fail; }
}

status=ok
for s in $(param steps "readers,atr" | tr ',' ' '); do
    r=0 apdus=apdus
    case $s in *@*) r=${s#*@} apdus=apdus_${s#*@} ;; esac
    case ${s%@*} in
        readers) step readers opensc-tool -l || status=fail ;;
        atr) wait_card "$r" && step "$s" opensc-tool -r "$r" -a || status=fail ;;
        info) wait_card "$r" && step "$s" opensc-tool -r "$r" -n || status=fail ;;
        slots) wait_card && step slots pkcs11-tool --module $P11 -L || status=fail ;;
        objects) wait_card && step objects pkcs11-tool --module $P11 -O || status=fail ;;
        sign) wait_card && step sign sign || status=fail ;;
        apdu) wait_card "$r" && step "$s" apdu "$r" "$apdus" || status=fail ;;
        each) wait_card "$r" && each "$s" "$r" "$apdus" || status=fail ;;
        watch) step watch watch_card "$(param watch 30)" ;;
        *) mark "error unknown step $s"; status=fail ;;
    esac
done
finish $status
