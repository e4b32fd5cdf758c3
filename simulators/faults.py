"""Fault injection and mutants.

Faults are what a test team switches on to see a system cope: latency, a lost answer, a hub outage,
an insured platform answering -1, duplicate delivery. Mutants are deliberately wrong behaviours of
yidi's own simulators, one per rule the suites guard: every conformance case must catch at least one.
Both are named, listed by ``yidi mutants`` / ``yidi serve --help``, and switched by option or by the
admin endpoint.

Long because it is a catalogue: one entry per fault and per mutant, then the few lines that switch them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    zh: str
    en: str
    rule: str = ""
    # the mutant's answers break the spec (a money invariant, a required field) and the suites must see them
    # on the wire: while it is on, the simulator's own check of its answers is off (a wrong platform has none)
    unchecked: bool = False


FAULTS: dict[str, Kind] = {
    "latency": Kind(
        "应答前增加延迟（值为秒，默认0.2）", "add latency before every answer (value: seconds, default 0.2)"
    ),
    "drop-answer": Kind(
        "业务已提交但丢弃应答（HIS超时，应以2601冲正）",
        "drop the answer after the work is committed (the HIS times out and must reverse)",
    ),
    "hold-answer": Kind(
        "业务已提交但不应答，连接保持至HIS超时放弃（值为秒，默认600）",
        "commit the work, then hold the connection unanswered until the HIS's read timeout gives up"
        " (value: seconds, default 600; then HTTP 504)",
    ),
    "hub-outage": Kind("国家平台不可用", "the national hub refuses every message"),
    "insured-error": Kind("参保地对业务交易应答-1", "the insured platform answers -1 to business messages"),
    "duplicate-delivery": Kind(
        "平台间每条报文重复投递", "every message between platforms is delivered twice"
    ),
    "insured-outage": Kind(
        "参保地平台无响应（国家平台或本省就医地收不到应答）",
        "the insured platform does not answer (scope: its admdvs, e.g. insured-outage:500000/Y2304)",
    ),
}

MUTANTS: dict[str, Kind] = {
    "ignore-deductible": Kind("不扣起付线", "the insured side ignores the deductible", "R-BEN-01"),
    "skip-filing-check": Kind("不校验异地就医备案", "the insured side does not check filing", "R-FILE-01"),
    "pay-twice-on-retry": Kind(
        "重复报文ID重复结算", "a retried settlement msgid is settled again", "R-IDEM-01"
    ),
    "no-ytd-rollback": Kind(
        "结算撤销不回退年度累计", "2305 forgets to roll back year-to-date usage", "R-AMT-12"
    ),
    "accept-bad-signature": Kind("接受错误签名", "the gateway accepts a wrong signature", "R-SEC-02"),
    "skip-card-sn-check": Kind("不校验卡识别码", "card_sn is not checked against the card", "R-CARD-01"),
    # settlement and queries (treatment role, JT-SET / JT-QRY)
    "presettle-ignores-account": Kind(
        "预结算不使用个人账户（与结算不一致）",
        "2303 ignores acct_used_flag, so 2304 differs from it",
        "R-AMT-10",
    ),
    "cash-ignores-account": Kind(
        "个人现金支出未扣除个人账户支付",
        "psn_cash_pay is the whole personal share although the account paid part of it",
        "R-AMT-03",
        unchecked=True,
    ),
    "ratio-ignores-level": Kind(
        "统筹支付比例与起付线不分医院等级（一律按三级）",
        "ratio and deductible are the tertiary ones at every level",
        "R-BEN-02",
    ),
    "ignore-annual-cap": Kind(
        "统筹基金不执行年度最高支付限额",
        "the pooled fund ignores what the year has used of its cap",
        "R-BEN-03",
    ),
    "no-temporary-reduction": Kind(
        "临时外出就医不降低统筹支付比例", "temporary care (fil_type 4/5/6) gets the full ratio", "R-BEN-04"
    ),
    "account-overdraft": Kind(
        "个人账户支付超过账户余额",
        "the personal account pays the whole personal share whatever its balance",
        "R-BEN-06",
    ),
    "account-always-used": Kind(
        "未申请使用个人账户仍从账户扣款", "the account pays although acct_used_flag is 0", "R-BEN-06"
    ),
    "keep-account-on-cancel": Kind(
        "撤销结算不退回个人账户支付", "2305 does not pay the account back", "R-BEN-06"
    ),
    "refuse-mid-settlement": Kind(
        "不支持中途结算（mid_setl_flag=1仍要求先出院）",
        "a mid-stay settlement is refused until discharge",
        "R-LIFE-01",
    ),
    "settle-without-discharge": Kind(
        "未办理出院即可结算（非中途结算）",
        "2304 settles a visit not discharged (mid_setl_flag 0)",
        "R-LIFE-01",
    ),
    "cancel-discharge-noop": Kind(
        "撤销出院【2405】应答成功但就诊仍为已出院",
        "2405 answers success but the visit stays discharged",
        "R-LIFE-01",
    ),
    "recovery-reverses-stranded-reversal": Kind(
        "冲正未送达参保地而中断，恢复时仍向参保地冲正原结算（就医地恢复为已结算，参保地已冲正）",
        "a reversal the insured side never got is sent there by the recovery while the visit is put back to"
        " settled: the two sides disagree",
        "R-REV-01",
    ),
    "details-dropped-when-away": Kind(
        "事后传明细时参保地不可用，明细被当作已送达而丢弃",
        "details after the fact the insured side could not take are marked sent and never retried",
        "R-DTL-01",
    ),
    "skip-fee-total-check": Kind(
        "不核对医疗费总额与已上传明细合计",
        "medfee_sumamt is not checked against the uploaded fees",
        "R-AMT-07",
    ),
    "query-answers-presettlement": Kind(
        "结算信息查询【5203】返回预结算金额",
        "5203 answers the visit's last pre-settlement amounts",
        "R-QRY-01",
    ),
    "query-ignores-cancellation": Kind(
        "已撤销的结算在【5203】中仍为正常结算", "5203 shows a cancelled settlement as normal", "R-QRY-01"
    ),
    "query-by-visit-only": Kind(
        "【5203】只按就诊ID查询，不核对结算ID",
        "5203 finds the settlement by mdtrt_id and ignores setl_id",
        "R-QRY-01",
    ),
    "deep-json-crashes": Kind(
        "嵌套过深、无法留存的报文得到HTTP 500而非E1007应答",
        "a message nested too deep to be recorded gets HTTP 500, not an E1007 answer",
        "R-ENV-01",
    ),
    "details-matched-across-settlements": Kind(
        "事后传明细【Y2301】按明细流水号查已收明细时不限本结算：其他结算的同号明细被当作重发",
        "Y2301 looks up the lines already kept by feedetl_sn across settlements: another settlement's line of"
        " the same number is taken for a repeat",
        "R-DTL-01",
    ),
    "clearing-reconfirm-drops-other-kind": Kind(
        "再确认【3261】先前不纳入的结算行时，同一结算流水号的撤销行确认被一并删除",
        "3261 confirming a row left out before deletes the other row of its settlement id (its"
        " cancellation's) confirmation too",
        "R-CLR-02",
    ),
    "query-ignores-psn-no": Kind(
        "【5203】不核对人员编号，他人可查询本结算",
        "5203 answers a settlement asked for with another person's psn_no",
        "R-QRY-01",
    ),
    "fee-query-includes-cancelled": Kind(
        "【5204】返回已撤销的费用明细", "5204 lists cancelled fee lines too", "R-QRY-02", unchecked=True
    ),
    "totals-not-forwarded": Kind(
        "人员累计信息查询【5206】不向参保地查询，外省人员无累计",
        "5206 answers from the treatment side's own books: nothing for a person insured elsewhere",
        "R-QRY-04",
    ),
    "totals-omit-deductible": Kind(
        "参保地人员累计信息【Y5206】不含已付起付线",
        "Y5206 leaves out the deductible paid (Q0000)",
        "R-QRY-04",
    ),
    "totals-outpatient-cap-as-inpatient": Kind(
        "参保地人员累计信息【Y5206】门诊统筹基金累计报在住院代码下（无_BIZ11/_BIZ14后缀）",
        "Y5206 reports the pooled fund's outpatient and 门诊慢特病 usage under the inpatient code"
        " (no _BIZ11/_BIZ14 suffix)",
        "R-QRY-04",
    ),
    "person-lock-not-advancing": Kind(
        "同一人员并发结算时乐观锁版本号不递增，后写覆盖先写的年度累计",
        "the optimistic lock on a person's record never advances: of two settlements of one person at once"
        " the later one's write overwrites the earlier one's usage",
        "R-QRY-04",
    ),
    "in-hospital-lists-settled": Kind(
        "【5303】把已结算的就诊列为在院", "5303 lists settled visits as in hospital", "R-QRY-03"
    ),
    "in-hospital-ignores-psn-no": Kind(
        "【5303】按人员编号查询时列出本院其他人员的在院就诊",
        "5303 asked for one person lists the hospital's other persons in hospital too",
        "R-QRY-03",
    ),
    # money between provinces at the hub (hub role, JT-CLR-2xx)
    "prepayment-not-drawn": Kind(
        "国家平台结算不动用参保地预付金",
        "the hub books settlements without drawing on the prepayment fund",
        "R-CLR-03",
    ),
    "clearing-skips-cancellations": Kind(
        "国家平台清算单不计撤销结算", "the hub's monthly statement leaves cancellations out", "R-CLR-01"
    ),
    "statements-to-everyone": Kind(
        "国家平台向任何省份提供全部清算单（不限与本省有关的）",
        "the hub answers Y3201 with every province's statements, not only those of the sender",
        "R-CLR-01",
    ),
    "funds-to-everyone": Kind(
        "国家平台向任何省份提供全部预付金（不限与本省有关的）",
        "the hub answers Y3204 with every pair's prepayment fund, not only those of the sender's province",
        "R-CLR-03",
    ),
    "top-up-accepts-negative": Kind(
        "国家平台接受负数金额的预付金补足（实为退款）",
        "the hub accepts a prepayment top-up of a negative amount (money taken back)",
        "R-CLR-03",
    ),
    "top-up-answers-other-fund": Kind(
        "国家平台补足预付金【Y3203】应答的是其他参保地在该就医地的预付金",
        "the hub's Y3203 answer shows another insured province's fund at the treatment province",
        "R-CLR-03",
    ),
    "clearing-pays-twice": Kind(
        "国家平台可重复确认清算单并重复拨付",
        "the hub lets a statement be confirmed and paid twice",
        "R-CLR-02",
    ),
    "no-prepayment-alert": Kind(
        "预付金用尽也不预警", "no alert however much of a prepayment fund is used", "R-CLR-03"
    ),
    "clearing-month-after-november-wrong": Kind(
        "清算月的次月按 月%11+1 计算：11月、12月的清算时段错误（12月的清算单次年2月才可出）",
        "the month after a clearing month computed as month % 11 + 1: November's and December's spans are"
        " wrong (December's statement not issued before February)",
        "R-CLR-02",
    ),
    "prepayment-alert-past-threshold": Kind(
        "预付金动用恰达预警线（70%）或紧急线（90%）时不预警，超过才预警",
        "a prepayment fund used exactly up to the warning (70 %) or urgent (90 %) share gives no alert of"
        " that level: only past it",
        "R-CLR-03",
    ),
    "confirm-confirms-everyone": Kind(
        "一省确认即确认当月全部清算单",
        "one province's confirmation confirms every province's statements",
        "R-CLR-02",
    ),
    "reversal-rewrites-cleared-month": Kind(
        "已清算结算的冲正不计入下月清算",
        "a reversal after its month was cleared is never refunded",
        "R-CLR-02",
    ),
    # reconciliation between a hospital and its treatment province (treatment role, JT-REC)
    "reconcile-always-balanced": Kind(
        "【3201】对总账总是返回平帐", "3201 answers balanced whatever the totals", "R-REC-01"
    ),
    "reconcile-ignores-refunds": Kind(
        "【3201】【3202】不区分退费结算标志REFD_SETL_FLAG",
        "3201/3202 count refunds even when told not to",
        "R-REC-01",
    ),
    "detail-misses-platform-only": Kind(
        "【3202】结果文件漏列平台有而医院未报的结算",
        "3202's result leaves out settlements only the platform has",
        "R-REC-02",
    ),
    # monthly clearing of remote patients at the treatment place (treatment role, JT-CLR)
    "clearing-extract-misses-cancellations": Kind(
        "【3260】清分明细漏列撤销结算", "3260 leaves the month's cancellations out of the rows", "R-CLR-02"
    ),
    "clearing-reconfirm-allowed": Kind(
        "【3261】已确认的清分明细可再次确认", "3261 confirms a row already confirmed", "R-CLR-02"
    ),
    "clearing-undo-ignores-otransid": Kind(
        "【3262】按原交易流水号回退时回退本月全部确认",
        "3262 by otransid undoes every confirmation",
        "R-CLR-02",
    ),
    "clearing-amounts-unchecked": Kind(
        "【3261】不核对确认明细的金额", "3261 takes rows whose amounts differ from the platform's", "R-CLR-02"
    ),
    # admission and fees (treatment role, JT-ADM / JT-FEE)
    "filed-warned-as-unfiled": Kind(
        "已备案人员入院仍提示未备案",
        "2401 warns 'not filed' although the insured side found a filing",
        "R-FILE-01",
    ),
    "temporary-filing-unknown": Kind(
        "不认可临时外出就医备案（转诊、急诊、其他临时外出）",
        "the insured side ignores filings of types 4, 5, 6 (temporary care)",
        "R-FILE-01",
    ),
    "card-sn-optional": Kind(
        "社保卡就医不校验卡识别码必填",
        "a card visit (mdtrt_cert_type 03) without card_sn passes validation",
        "R-CARD-01",
    ),
    "accept-lost-card": Kind(
        "挂失或注销的社保卡仍可就医", "a lost or cancelled card is accepted", "R-CARD-02"
    ),
    "lost-card-blocks-all-credentials": Kind(
        "社保卡挂失后电子凭证、身份证也被拒绝",
        "a lost card also refuses the e-voucher and the ID number",
        "R-CARD-02",
    ),
    "ignore-suspended-insurance": Kind(
        "暂停参保人员仍可入院", "a person whose insurance is suspended is admitted", "R-FILE-04"
    ),
    "accept-future-times": Kind(
        "入院、费用发生、出院时间晚于平台当前时间仍受理",
        "admission, fee and discharge times in the platform's future (beyond the clocks' tolerance)"
        " are booked",
        "R-DATE-04",
    ),
    "accept-discharge-before-admission": Kind(
        "出院时间早于入院时间仍受理", "a discharge dated before its admission is booked", "R-DATE-04"
    ),
    "allow-double-admission": Kind(
        "同一人员可重复办理入院", "a person with an open stay is admitted again", "R-LIFE-03"
    ),
    "cancel-admission-with-fees": Kind(
        "有费用明细仍可撤销入院", "2404 succeeds while fee lines remain", "R-LIFE-02"
    ),
    "last-fee-batch-only": Kind(
        "分批上传费用时只保留最后一批", "each 2301 batch replaces the fee lines uploaded before", "R-AMT-07"
    ),
    "accept-unlisted-items": Kind(
        "就医地目录外项目按丙类受理", "an item outside the treatment catalog is accepted as 丙类", "R-CAT-01"
    ),
    "yi-as-jia": Kind(
        "乙类项目按甲类分割（不计先行自付）", "乙类 lines are split as 甲类 (no pre-self-pay)", "R-BEN-05"
    ),
    "ignore-price-cap": Kind("不执行限价（超限价部分未计自费）", "the price cap is not applied", "R-CAT-02"),
    "refund-counted-positive": Kind(
        "退费明细按正数计入", "a refund line (negative cnt) is counted as a positive fee", "R-AMT-07"
    ),
    "accept-orphan-refund": Kind(
        "退费明细未指向原明细仍受理", "a refund line pointing at no uploaded line is accepted", "R-LIFE-04"
    ),
    "accept-duplicate-feedetl-sn": Kind(
        "费用明细流水号重复仍受理", "a fee line number already uploaded is accepted again", "R-LIFE-04"
    ),
    "cancel-fees-cancels-all": Kind(
        "按流水号撤销一条费用时撤销了全部费用", "2302 with one feedetl_sn cancels every line", "R-AMT-07"
    ),
    "no-cancel-all-fees": Kind(
        "不支持以“0000”撤销全部费用", "2302 with feedetl_sn 0000 does not cancel all lines", "R-LIFE-04"
    ),
    "accept-fees-after-discharge": Kind(
        "出院或结算后仍可上传费用", "2301 is accepted on a discharged or settled visit", "R-LIFE-05"
    ),
    # reliability, security, conformance (treatment role, JT-REL / JT-SEC / JT-CON)
    "forget-answered-msgid": Kind(
        "就医地平台不记录已应答的报文ID，重发按新交易办理",
        "the hospital gateway forgets answered msgids: a resent message is handled again",
        "R-IDEM-01",
    ),
    "msgid-ignores-content": Kind(
        "同一报文ID内容不同仍返回原应答（不报E6001）",
        "a reused msgid with other content gets the first answer instead of E6001",
        "R-IDEM-01",
    ),
    "reversal-changes-nothing": Kind(
        "冲正【2601】应答成功但未撤销任何数据", "2601 answers success and undoes nothing", "R-REV-01"
    ),
    "reversal-of-unknown-succeeds": Kind(
        "冲正从未收到的原交易仍应答成功", "2601 of a message never received answers success", "R-REV-01"
    ),
    "no-settlement-lock": Kind(
        "同一就诊并发结算不加锁（全靠参保地拒绝）",
        "the treatment side does not lock a visit being settled (only the insured side refuses)",
        "R-CONC-01",
    ),
    "keep-claim-after-refusal": Kind(
        "参保地拒绝结算后就诊仍停留在“结算中”",
        "after the insured side refuses, the visit stays claimed (settling)",
        "R-ROUTE-02",
    ),
    "no-claim-recovery": Kind(
        "国家平台恢复后不冲正滞留的结算",
        "claims stranded by an outage are never reversed and released",
        "R-ROUTE-02",
    ),
    "accept-unsigned": Kind(
        "网关受理没有x-tif-signature的请求",
        "the gateway accepts a request without x-tif-signature",
        "R-SEC-01",
    ),
    "remember-gateway-refusals": Kind(
        "网关拒绝的报文也登记报文ID，正确重发被当作重复",
        "a message refused by the gateway is recorded under its msgid, so a proper resend gets the refusal",
        "R-IDEM-01",
    ),
    "any-paasid-any-institution": Kind(
        "应用账户可代任何机构发送报文",
        "a paasid may send messages for any institution",
        "R-SEC-03",
    ),
    "any-platform-any-province": Kind(
        "国家平台/参保地平台不校验签名账户能否代表报文所称的发送方（机构编号、就医地区划）",
        "the hub and the insured platforms take the sender an envelope names on trust, whoever signed it",
        "R-SEC-03",
    ),
    "no-timestamp-window": Kind(
        "不校验时间戳x-tif-timestamp的有效窗口", "the timestamp window is not checked", "R-SEC-04"
    ),
    "accept-replayed-nonce": Kind(
        "不校验随机数x-tif-nonce是否重复", "a replayed nonce is accepted", "R-SEC-05"
    ),
    "other-hospitals-visits": Kind(
        "机构可操作其他机构的就诊", "an institution may act on another institution's visit", "R-SEC-07"
    ),
    "no-sign-in-check": Kind(
        "未签到【9001】也可办理业务", "transactions are accepted without a sign-in", "R-SEC-06"
    ),
    "sign-out-ignored": Kind(
        "签退【9002】后原签到编号仍可使用", "a sign_no stays valid after 9002 sign-out", "R-SEC-06"
    ),
    "answer-code-outside-table": Kind(
        "【1101】应答人员证件类型psn_cert_type不在代码表内（“1”而非“01”）",
        "1101 answers psn_cert_type outside its code table ('1' for '01')",
        "R-ENV-02",
    ),
    "answer-missing-field": Kind(
        "【2301】应答明细缺少必填字段lmt_used_flag",
        "2301 answers fee lines without the required lmt_used_flag",
        "R-ENV-01",
    ),
    "answer-money-unbalanced": Kind(
        "【2303】应答个人负担多算0.01元，金额不平",
        "2303 answers psn_part_amt one cent too high (the amounts do not add up)",
        "R-AMT-02",
    ),
    "answer-datetime-format": Kind(
        "【2304】应答结算时间格式为yyyy/MM/dd HH:mm:ss",
        "2304 answers setl_time as yyyy/MM/dd HH:mm:ss",
        "R-ENV-01",
    ),
    "answer-over-length": Kind(
        "【2305】应答医药机构结算ID超过30位",
        "2305 answers a medins_setl_id over its 30 characters",
        "R-ENV-01",
    ),
    "answer-decimal-precision": Kind(
        "【5204】应答明细金额超出两位小数",
        "5204 answers det_item_fee_sumamt with more than two decimals",
        "R-ENV-01",
    ),
    # the insured platform (SUT role insured: JT-…-1xx)
    "person-info-without-filings": Kind(
        "人员信息查询【Y1101】不返回备案信息", "Y1101 answers no filinginfo", "R-FILE-01"
    ),
    "reversal-keeps-usage": Kind(
        "冲正【Y2601】结算不回退年度累计", "Y2601 of a settlement leaves its year-to-date usage", "R-REV-01"
    ),
    "cancel-answer-not-negated": Kind(
        "结算撤销【Y2305】应答原结算的正数金额",
        "Y2305 answers the settlement's amounts instead of their negatives",
        "R-AMT-11",
    ),
    "insured-answer-unbalanced": Kind(
        "参保地结算【Y2304】应答基金支付总额多算0.01元",
        "Y2304 answers fund_pay_sumamt one cent above the funds it names",
        "R-AMT-04",
        unchecked=True,
    ),
    # the national hub (SUT role hub: JT-…-2xx)
    "hub-misroutes": Kind(
        "国家平台按就医地而非参保地路由",
        "the hub routes by the treatment area, not the insured one",
        "R-ROUTE-01",
    ),
    "hub-masks-refusal": Kind(
        "国家平台将参保地的业务拒绝改写为系统错误",
        "the hub replaces an insured platform's refusal by a system error",
        "R-ROUTE-01",
    ),
    "outage-as-not-connected": Kind(
        "参保地无响应时国家平台应答未接入（-2，不可重试）",
        "an unreachable insured platform is answered as not connected (-2, final)",
        "R-ROUTE-02",
    ),
    "hub-forwards-retries": Kind(
        "国家平台对重发的报文ID再次转发参保地", "the hub forwards a retried msgid again", "R-IDEM-01"
    ),
    "hub-keeps-relayed-error": Kind(
        "国家平台将参保地的-1应答记为该报文ID的应答（恢复后重发仍得-1）",
        "the hub keeps an insured platform's -1 as the msgid's answer: a retry after recovery gets it again",
        "R-ROUTE-02",
    ),
    # the HIS (his role: the SUT is a hospital system; the reference HIS, actors/his.py, made wrong)
    "his-omits-card-sn": Kind(
        "HIS以社保卡读卡获取人员信息【1101】未传卡识别码card_sn",
        "the HIS reads a card (1101, mdtrt_cert_type 03) without sending its card_sn",
        "R-CARD-01",
    ),
    "his-fees-before-admission": Kind(
        "HIS在入院登记【2401】之前上传费用明细【2301】",
        "the HIS uploads fee lines (2301) before the admission (2401)",
        "R-LIFE-01",
    ),
    "his-feedetl-sn-per-batch": Kind(
        "HIS费用明细流水号每批从1编号，批次之间重复",
        "the HIS numbers fee lines from 1 in every 2301 batch, so batches reuse feedetl_sn",
        "R-LIFE-04",
    ),
    "his-total-last-batch": Kind(
        "HIS预结算/结算的医疗费总额只计最后一批费用明细",
        "the HIS sends medfee_sumamt of the last 2301 batch only",
        "R-AMT-07",
    ),
    "his-new-msgid-on-retry": Kind(
        "HIS结算【2304】应答丢失后换新报文ID重新结算，未冲正",
        "after a lost 2304 answer the HIS settles again under a new msgid without reversing",
        "R-IDEM-01",
    ),
    "his-no-reversal": Kind(
        "HIS结算【2304】应答丢失后既不重发也不冲正【2601】",
        "after a lost 2304 answer the HIS neither resends it nor reverses it (2601)",
        "R-REV-01",
    ),
    "his-cancel-by-medins-setl-id": Kind(
        "HIS撤销结算【2305】以医药机构结算ID代替结算ID",
        "the HIS cancels (2305) with medins_setl_id in place of setl_id",
        "R-LIFE-01",
    ),
    "his-wrong-signature": Kind(
        "HIS签名缺少末尾时间戳：SHA-256(时间戳+密钥+随机数)",
        "the HIS signs SHA-256(timestamp + secret + nonce), without the trailing timestamp",
        "R-SEC-02",
    ),
    "his-uppercase-signature": Kind(
        "HIS签名使用大写十六进制（规范为小写）",
        "the HIS writes x-tif-signature in uppercase hex (the spec says lowercase)",
        "R-SEC-02",
    ),
    "his-msgid-format": Kind(
        "HIS报文ID以行政区划开头（按平台inf_refmsgid格式生成）",
        "the HIS makes msgids like the platform's inf_refmsgid (admdvs first), not fixmedins_code first",
        "R-ENV-04",
    ),
    # ── scenario families (issue #19): mistakes only a history, a sample or another role shows ──
    "reversal-keeps-account": Kind(
        "冲正【Y2601】结算回退年度累计但不退回个人账户",
        "Y2601 of a settlement rolls its usage back but does not pay the personal account back",
        "R-BEN-06",
    ),
    "cancel-keeps-stay-count": Kind(
        "撤销结算不回退本年住院次数（C0000只增不减）",
        "a cancellation rolls the money back but not the year's count of stays (C0000 only grows)",
        "R-AMT-12",
    ),
    "year-by-admission-day": Kind(
        "跨年住院按入院日期计入年度（政策规定按结算日）",
        "a stay counts in the year of its admission, although the policy counts the settlement day",
        "R-BEN-01",
    ),
    "clearing-extract-keeps-reversed": Kind(
        "【3260】清分明细仍列出已冲正的结算",
        "3260 lists a settlement reversed by 2601 as standing",
        "R-CLR-02",
    ),
    "clearing-extract-drops-last-second": Kind(
        "【3260】按“月末日23:59:59”截止提取，月末最后一秒内（带毫秒）的结算不在任何月份",
        "3260 ends a month at 23:59:59.000: a settlement in the month's last second is in no month",
        "R-CLR-02",
    ),
    "statement-drops-last-second": Kind(
        "国家平台清算单按“月末日23:59:59”截止，月末最后一秒内的结算不计入任何清算月",
        "the hub's statement ends a month at 23:59:59.000: a settlement in its last second is never cleared",
        "R-CLR-02",
    ),
    "reversal-keeps-prepayment-draw": Kind(
        "国家平台冲正结算后不退回预付金",
        "the hub marks a reversed settlement but does not put its draw back into the prepayment fund",
        "R-CLR-03",
    ),
    "adjustments-ignored-cross-province": Kind(
        "跨省结算不执行人员类别待遇调整（如退休人员提高比例）",
        "the policy's adjustments for who the person is (retired …) apply to local care only",
        "R-BEN-02",
    ),
    "preselfpay-on-capped-amount": Kind(
        "乙类超限价项目按全部金额计算先行自付（未先扣除超限价部分）",
        "a 乙 line above its price cap pays its pre-self-pay share on the whole amount, cap included",
        "R-BEN-05",
    ),
    "fee-split-bankers-rounding": Kind(
        "费用明细分割（超限价、先行自付）按银行家舍入（四舍六入五成双）",
        "the fee line split (over-limit, pre-self-pay) rounds half to even, not half up",
        "R-BEN-05",
    ),
    "pool-bankers-rounding": Kind(
        "统筹基金支付金额按银行家舍入（.NET Math.Round默认）",
        "the pooled fund's payment is rounded half to even (.NET Math.Round's default), not half up",
        "R-BEN-07",
    ),
    "filing-first-day-excluded": Kind(
        "备案开始日当天不视为有效（开始日期按不含计算）",
        "a filing is not valid on its first day (the start compared exclusively)",
        "R-FILE-02",
    ),
    "filing-last-day-excluded": Kind(
        "备案终止日当天不视为有效（终止日期按零点截止）",
        "a filing is not valid on its last day (the end compared as midnight)",
        "R-FILE-02",
    ),
    "lifecycle-cross-province-only": Kind(
        "就诊状态规则只对跨省患者校验，本省患者可重复入院、出院后补传费用、带费用撤销入院",
        "the life-cycle rules are checked for cross-province patients only: a same-province patient may be "
        "admitted twice, add fees after discharge, cancel an admission with fees",
        "R-LIFE-03",
    ),
    "accept-duplicate-sn-in-batch": Kind(
        "同一批次内重复的费用明细流水号不校验（只比对已入库明细）",
        "a feedetl_sn repeated within one 2301 batch is not refused (only lines stored before are compared)",
        "R-LIFE-04",
    ),
    "msgid-fingerprint-main-node": Kind(
        "同一报文ID只比对主节点（列表只比对首行），其他节点或其他行不同仍返回原应答",
        "a reused msgid is compared on its first input node only (a list on its first row)",
        "R-IDEM-01",
    ),
    "trusted-link-no-replay-check": Kind(
        "平台间（国家平台、参保地）网关不校验时间戳窗口与随机数重放",
        "the platform-to-platform gateways (hub, insured side) check neither the timestamp window nor nonces",
        "R-SEC-05",
    ),
    # the insured side's life-cycle (a blind mutation sample on the rich world, insured, seed 19)
    "settle-settled-visit": Kind(
        "已结算的就诊以新报文ID再次结算【Y2304】被受理并再次支付",
        "the insured side settles a visit already settled again under a new Y2304 msgid, and pays again",
        "R-LIFE-01",
    ),
    "cancel-ignores-mdtrt-id": Kind(
        "结算撤销【Y2305】不校验结算ID所属就诊：以他次就诊的就诊ID亦可撤销",
        "Y2305 does not check that the setl_id belongs to the mdtrt_id given: another visit's ID cancels it",
        "R-LIFE-01",
    ),
    "cancel-reversal-not-restored": Kind(
        "冲正结算撤销【Y2601冲正Y2305】只记为已冲正，结算未恢复（年度累计与个人账户仍为撤销后）",
        "Y2601 of a Y2305 marks the cancellation reversed but leaves the settlement undone (usage, account)",
        "R-REV-01",
    ),
    "details-repeats-counted": Kind(
        "事后传明细【Y2301】重发的明细行再次计入已收行数totalrow",
        "Y2301 counts the lines of a batch sent again once more in totalrow",
        "R-DTL-01",
    ),
    "hub-route-cache-by-sender": Kind(
        "国家平台按发送方缓存路由：某省首笔报文的参保地用于其后所有报文",
        "the hub caches routes by sender: a province's first destination is used for all its later messages",
        "R-ROUTE-01",
    ),
}


@dataclass
class Fault:
    name: str
    scope: str | None = (
        None  # a node (treatment:510000, insured:500000, hub), an infno, node/infno; None: all
    )
    value: float | None = None
    times: int | None = None  # how many more times it fires; None: always

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``NAME[:SCOPE][=VALUE][*TIMES]``: ``drop-answer:2304*1``, ``latency:insured:510000/Y2304=3``."""
        times = None
        if "*" in text:
            text, count = text.rsplit("*", 1)
            times = int(count)
        value = None
        if "=" in text:
            text, number = text.split("=", 1)
            value = float(number)
        name, _, scope = text.partition(":")
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        return cls(name, scope or None, value, times)

    def matches(self, node: str, infno: str | None) -> bool:
        """A scope names a node (insured:510000, or just 510000), an infno, or both: insured:510000/Y2304."""
        return self.scope is None or all(
            part in (node, infno) or node.endswith(":" + part) for part in self.scope.split("/")
        )


class Faults:
    """The faults and mutants switched on in one running simulator."""

    def __init__(self, faults: list[Fault] | None = None, mutants: set[str] | None = None) -> None:
        unknown = (mutants or set()) - set(MUTANTS)
        if unknown:
            raise ValueError(f"unknown mutant(s) {sorted(unknown)}; known: {', '.join(MUTANTS)}")
        self.faults = list(faults or [])
        self.mutants = set(mutants or ())
        self.checked = True  # the simulators check their own answers against the spec (Options.self_check)
        self._lock = threading.Lock()

    def _find(self, name: str, node: str, infno: str | None) -> Fault | None:
        if not self.faults:  # the usual case, on every message
            return None
        return next((f for f in self.faults if f.name == name and f.matches(node, infno)), None)

    def take(self, name: str, node: str, infno: str | None = None) -> bool:
        """Whether the fault fires here now (counting down a limited one)."""
        if not self.faults:
            return False
        with self._lock:
            fault = self._find(name, node, infno)
            if fault is None:
                return False
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return True

    def value(self, name: str, node: str, infno: str | None = None, default: float = 0.2) -> float | None:
        fault = self._find(name, node, infno)
        if fault is None:
            return None
        return fault.value if fault.value is not None else default

    def unchecked(self) -> bool:
        """Whether answers leave unchecked: the self-check is off, or a mutant whose answers must reach the
        wire although they break the spec is on."""
        return not self.checked or any(MUTANTS[m].unchecked for m in self.mutants)

    def mutant(self, name: str) -> bool:
        return name in self.mutants

    def state(self) -> dict[str, object]:
        return {"faults": [vars(f) for f in self.faults], "mutants": sorted(self.mutants)}
