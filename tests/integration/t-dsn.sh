#!/bin/sh
# DSN parameters (RFC 3461) kept in the queued envelope (doc/queue.md) and honoured by
# tern-send: NOTIFY=NEVER / SUCCESS / FAILURE, ORCPT, ENVID, RET=HDRS / FULL, the
# databytes cap on a returned message, and tern-queue refusing malformed records (91).
# Reports are checked with python's email package.
. "$(dirname "$0")/lib.sh"
t_home
QI="python3 $T_TOP/tests/integration/qinject.py"
DEMO=$(t_demo)
log=$TERN_HOME/log/send.log
"$T_BIN/tern-users" add sndr@example.test >/dev/null || fail "tern-users add sndr"
SNDR=$TERN_HOME/mail/example.test/sndr/Maildir
t_start_send || fail "tern-send started"
qempty() { [ -z "$(ls "$TERN_HOME/queue/mess")" ]; }

# Runs python with the checker below; its "ok - " / "not ok - " lines count as ours.
cat >"$TERN_HOME/check.py" <<'PY'
import email, sys
from email import policy
path, want = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
m = email.message_from_bytes(open(path, "rb").read(), policy=policy.compat32)
tag = want.pop("tag", "")
def check(c, what):
    print(("ok - " if c else "not ok - ") + tag + ": " + what)
check(m["Return-Path"] == "<>", "null envelope sender")
check(m.get_content_type() == "multipart/report" and m.get_param("report-type") == "delivery-status",
      "multipart/report; report-type=delivery-status")
parts = m.get_payload()
check(isinstance(parts, list) and len(parts) == 3, "three parts")
ds = parts[1]
check(ds.get_content_type() == "message/delivery-status", "message/delivery-status")
permsg, rcpt = ds.get_payload()[0], ds.get_payload()[1]
check(rcpt["Action"] == want["action"], "Action: " + want["action"] + " (got %r)" % rcpt["Action"])
check(rcpt["Status"] == want["status"], "Status: " + want["status"] + " (got %r)" % rcpt["Status"])
check(rcpt["Final-Recipient"] == "rfc822; " + want["rcpt"], "Final-Recipient " + want["rcpt"])
o = want.get("orcpt")
check(rcpt["Original-Recipient"] == o, "Original-Recipient %r (got %r)" % (o, rcpt["Original-Recipient"]))
e = want.get("envid")
check(permsg["Original-Envelope-Id"] == e, "Original-Envelope-Id %r (got %r)" % (e, permsg["Original-Envelope-Id"]))
ret = parts[2]
check(ret.get_content_type() == want["returned"], "returned part " + want["returned"] + " (got %s)" % ret.get_content_type())
if want["returned"] == "message/rfc822":
    inner = ret.get_payload()[0]
    body = inner.get_payload()
    check(want["body"] in body, "the whole message comes back, body included")
    check(inner["Subject"] == want["subject"], "returned message keeps its Subject")
else:
    txt = ret.get_payload()
    check("Subject: " + want["subject"] in txt, "returned header has the Subject")
    check(want.get("body", "\x00") not in txt, "no body in the returned header")
PY
pycheck() {
	python3 "$TERN_HOME/check.py" "$@" >"$TERN_HOME/py.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }";;
		"not ok - "*) fail "${line#not ok - }";;
		*) fail "checker: $line";;
		esac
	done <"$TERN_HOME/py.out"
}
# The report about the message with Subject $2 in Maildir $1.
report_for() { grep -l "^Subject: $2\$" "$1"/new/* 2>/dev/null | xargs grep -l 'report-type=delivery-status' 2>/dev/null | head -n 1; }
has_report() { [ -n "$(report_for "$1" "$2")" ]; }

# NOTIFY=NEVER to an unknown user: logged, no bounce.
printf 'Subject: never-1\n\nquiet\n' | $QI sndr@example.test nosuch@example.test NOTIFY=NEVER
is "NOTIFY=NEVER queued" $? 0
check "NOTIFY=NEVER: failure logged with notify=never" t_wait 10 grep -q 'event=failed rcpt=nosuch@example.test .*notify=never' "$log"
check "NOTIFY=NEVER: queue empty" t_wait 5 qempty
check "NOTIFY=NEVER: no bounce event" sh -c "! grep -q 'event=bounce ' '$log'"

# NOTIFY=SUCCESS alone: no failure report either.
printf 'Subject: success-only-fail\n\nquiet\n' | $QI sndr@example.test nosuch2@example.test NOTIFY=SUCCESS
check "NOTIFY=SUCCESS to an unknown user: failure logged" t_wait 10 grep -q 'event=failed rcpt=nosuch2@example.test .*notify=success' "$log"
check "NOTIFY=SUCCESS to an unknown user: queue empty" t_wait 5 qempty
sleep 0.3
is "no report to the sender so far" "$(t_count "$SNDR")" 0

# NOTIFY=SUCCESS with ORCPT and ENVID: a delivered report to the sender.
printf 'Subject: success-1\n\nsecret body one\n' | $QI --envid 'ENV+2B42' sndr@example.test demo@example.test NOTIFY=SUCCESS 'ORCPT=rfc822;Demo+2Bx@example.test'
check "NOTIFY=SUCCESS: message delivered" t_wait_count 10 "$DEMO" 1
check "NOTIFY=SUCCESS: delivered report arrives" t_wait 10 has_report "$SNDR" success-1
pycheck "$(report_for "$SNDR" success-1)" tag=success action=delivered status=2.0.0 rcpt=demo@example.test \
	'orcpt=rfc822; Demo+x@example.test' envid=ENV+42 returned=text/rfc822-headers subject=success-1 'body=secret body one'
check "log: event=success-report" grep -q 'event=success-report to=sndr@example.test' "$log"
check "NOTIFY=SUCCESS: queue empty afterwards" t_wait 5 qempty

# Without ORCPT and ENVID the report has neither field.
printf 'Subject: success-2\n\nbody two\n' | $QI sndr@example.test demo@example.test NOTIFY=SUCCESS,FAILURE
check "NOTIFY=SUCCESS,FAILURE: delivered report arrives" t_wait 10 has_report "$SNDR" success-2
pycheck "$(report_for "$SNDR" success-2)" tag=success-plain action=delivered status=2.0.0 rcpt=demo@example.test \
	returned=text/rfc822-headers subject=success-2 'body=body two'

# NOTIFY=FAILURE and RET=HDRS: a bounce with the header only.
printf 'Subject: hdrs-1\n\nhdrs body\n' | $QI --ret HDRS sndr@example.test nosuch3@example.test NOTIFY=FAILURE 'ORCPT=rfc822;nosuch3@example.test'
check "RET=HDRS: bounce arrives" t_wait 10 has_report "$SNDR" hdrs-1
pycheck "$(report_for "$SNDR" hdrs-1)" tag=hdrs action=failed status=5.1.1 rcpt=nosuch3@example.test \
	'orcpt=rfc822; nosuch3@example.test' returned=text/rfc822-headers subject=hdrs-1 'body=hdrs body'

# RET=FULL (no NOTIFY: failures are reported): message/rfc822 with the body.
printf 'Subject: full-1\n\nfull body line\nsecond line\n' | $QI --ret FULL --envid full-env sndr@example.test nosuch4@example.test
check "RET=FULL: bounce arrives" t_wait 10 has_report "$SNDR" full-1
pycheck "$(report_for "$SNDR" full-1)" tag=full action=failed status=5.1.1 rcpt=nosuch4@example.test \
	envid=full-env returned=message/rfc822 subject=full-1 'body=full body line
second line'

# One message, two outcomes: a success report and a bounce, each its own notification.
before=$(t_count "$SNDR")
printf 'Subject: mixed-1\n\nmixed\n' | $QI sndr@example.test demo@example.test NOTIFY=SUCCESS nosuch5@example.test
check "mixed: two reports" t_wait_count 10 "$SNDR" $((before + 2))
check "mixed: one says delivered" sh -c "grep -l '^Action: delivered' \$(grep -l '^Subject: mixed-1' '$SNDR'/new/*) >/dev/null"
check "mixed: one says failed" sh -c "grep -l '^Action: failed' \$(grep -l '^Subject: mixed-1' '$SNDR'/new/*) >/dev/null"
check "mixed: queue empty" t_wait 5 qempty

# A bounce (null sender) asking for SUCCESS gets no report: never report a report.
before=$(t_count "$DEMO")
printf 'Subject: null-success\n\nx\n' | $QI "" demo@example.test NOTIFY=SUCCESS
check "null sender: delivered" t_wait_count 10 "$DEMO" $((before + 1))
check "null sender: queue empty" t_wait 5 qempty
sleep 0.3
is "null sender: no report anywhere" "$(t_count "$DEMO")" $((before + 1))

# RET=FULL but the message would make the report bigger than databytes: header only.
echo 3000 >"$TERN_HOME/control/databytes"
kill -HUP "$T_SEND_PID"
check "tern-send reloaded" t_wait 5 grep -q 'event=reload' "$log"
big=$(python3 -c 'print("z" * 70 + "\n", end="" ) ' ); body=""
i=0; while [ $i -lt 36 ]; do body="$body$big"; i=$((i + 1)); done
printf 'Subject: full-big\n\n%s' "$body" | $QI --ret FULL sndr@example.test nosuch6@example.test
is "big message queued under databytes" $? 0
check "RET=FULL over databytes: bounce arrives" t_wait 10 has_report "$SNDR" full-big
pycheck "$(report_for "$SNDR" full-big)" tag=full-big action=failed status=5.1.1 rcpt=nosuch6@example.test \
	returned=text/rfc822-headers subject=full-big body=zzzzzzzzzz
check "RET=FULL over databytes: queue empty" t_wait 5 qempty

# Malformed extension records: tern-queue refuses with 91 and queues nothing.
hex() { printf "$1" | od -An -tx1 | tr -d ' \n'; }
n=0
for e in 'Fa@b\0NNEVER\0Tdemo@example.test\0\0' \
	 'Fa@b\0Tdemo@example.test\0Eid\0\0' \
	 'Fa@b\0RFULL\0RHDRS\0Tdemo@example.test\0\0' \
	 'Fa@b\0Rfull\0Tdemo@example.test\0\0' \
	 'Fa@b\0Tdemo@example.test\0Nnever\0\0' \
	 'Fa@b\0Tdemo@example.test\0NNEVER,SUCCESS\0\0' \
	 'Fa@b\0Tdemo@example.test\0NSUCCESS\0NSUCCESS\0\0' \
	 'Fa@b\0Ea=b\0Tdemo@example.test\0\0' \
	 'Fa@b\0Tdemo@example.test\0Orfc822\0\0' \
	 'Fa@b\0Tdemo@example.test\0Orfc822;a b\0\0' \
	 'Fa@b\0EID\0\0'; do
	n=$((n + 1))
	printf 'Subject: bad\n\nx\n' | $QI --raw-envelope "$(hex "$e")" 2>/dev/null
	is "malformed extension record $n: exit 91" $? 91
done
is "nothing queued from malformed envelopes" "$(ls "$TERN_HOME/queue/mess" | wc -l)" 0
# The same records well formed are taken, and the state bytes are one per T record.
t_stop_send
printf 'Subject: ok\n\nx\n' | $QI --envid e1 --ret HDRS a@b demo@example.test NOTIFY=NEVER 'ORCPT=rfc822;x' nosuch@example.test NOTIFY=SUCCESS,DELAY
is "well-formed extension records queued" $? 0
qf=$(ls "$TERN_HOME/queue/mess"/* | head -n 1)
is "header counts 2 recipients" "$(head -c 128 "$qf" | awk '{print $7}')" 2
is "two state bytes then a newline" "$(tail -c 3 "$qf" | od -An -c | tr -d ' ')" '..\n'
rm -f "$qf"

# A crash after a delivery but before its success report was queued leaves state S: the
# next tern-send sends the report and does not deliver again.
before=$(t_count "$DEMO"); rbefore=$(t_count "$SNDR")
printf 'Subject: crash-s\n\nx\n' | $QI sndr@example.test demo@example.test NOTIFY=SUCCESS
qf=$(ls "$TERN_HOME/queue/mess"/* | head -n 1)
stateoff=$(head -c 128 "$qf" | awk '{print $6}')
printf 'S' | dd of="$qf" bs=1 seek="$stateoff" conv=notrunc 2>/dev/null
t_start_send || fail "tern-send restarted"
check "state S: the report arrives" t_wait 10 has_report "$SNDR" crash-s
check "state S: queue empty" t_wait 5 qempty
is "state S: not delivered again" "$(t_count "$DEMO")" "$before"
is "state S: one report" "$(t_count "$SNDR")" $((rbefore + 1))
t_done
