"""Zeek ASCII (TSV) logs as Zeek writes them: header directives, tab-separated typed values."""

from __future__ import annotations

H = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"

CONN_LOG = (
    H + "#path\tconn\n#open\t2026-11-03-14-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\t"
    "resp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\t"
    "resp_ip_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\t"
    "count\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
    "1793714400.123456\tCwR3Nf2dSMFbXhXr9c\t10.1.2.3\t51544\t203.0.113.9\t443\ttcp\tssl\t12.004011\t4182\t"
    "1873422\tSF\tT\tF\t0\tShADadFf\t912\t40706\t1390\t1929042\t(empty)\n"
    "1793714401.5\tC8blOJ21azqP9rW0Ue\t10.1.2.3\t5353\t224.0.0.251\t5353\tudp\tdns\t-\t-\t-\tS0\tT\tF\t0\tD\t"
    "1\t73\t0\t0\t(empty)\n"
    "#close\t2026-11-03-15-00-00\n"
)

DNS_LOG = (
    H + "#path\tdns\n#open\t2026-11-03-14-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
    "qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\t"
    "count\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n"
    "1793714460.250001\tCq4t8m1kV0nUwP9aXe\t10.1.2.7\t49811\t10.1.0.53\t53\tudp\t48213\t0.021907\t"
    "pool.supportxmr.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t"
    "pool.supportxmr.com.cdn.example,198.51.100.44\t300.000000,60.000000\tF\n"
    "1793714461.000000\tCr5u9n2lW1oVxQ0bYf\t10.1.2.7\t49812\t10.1.0.53\t53\tudp\t48214\t-\t"
    "weird\\x09name.example\t1\tC_INTERNET\t16\tTXT\t3\tNXDOMAIN\tF\tF\tT\tT\t0\t(empty)\t(empty)\tF\n"
)
