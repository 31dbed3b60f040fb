"""Decode NetFlow v5, NetFlow v9 and IPFIX (RFC 7011) export packets: pure code, no sockets.

:class:`NetflowDecoder` keeps the state that v9 and IPFIX need, a template cache keyed by
``(exporter address, observation domain / source id, template id)``, and turns each
export packet into flow records: plain dicts shaped like Filebeat's ``netflow.*`` object

    {"type": "netflow_flow", "exporter": {"address", "source_id", "timestamp",
     "uptime_millis", "version"}, "source_ipv4_address": "10.0.0.1", ...}

with fields named by their IANA information element name in snake case
(``octetDeltaCount`` -> ``octet_delta_count``, as Filebeat names them). Options
records are ``{"type": "netflow_options", "scope": {...}, "options": {...}}``.
Values: integers, IP addresses as text, MAC addresses ``AA-BB-..``, times as ISO 8601
UTC text, strings, octet arrays base64; unknown elements are kept as hex under
``ie_<enterprise>_<id>``.

Data sets that arrive before their template are held (at most ``max_pending`` sets,
each for ``pending_ttl`` seconds) and decoded when the template arrives; what expires
or overflows is counted. Every malformed packet raises :class:`NetflowDecodeError`,
and nothing else, after the part that could be decoded was kept.
"""

from __future__ import annotations

import base64
import ipaddress
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "FieldSpec",
    "NetflowDecodeError",
    "NetflowDecoder",
    "Template",
    "field_name",
    "snake_case",
]

Flow = dict[str, Any]

VARIABLE_LENGTH = 0xFFFF
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


class NetflowDecodeError(ValueError):
    """An export packet that cannot be (fully) decoded; the message says what and where."""


# --- information elements --------------------------------------------------------------------------

# "id name [type]" per IANA IPFIX information element (ids 1..384); type codes:
# (none) unsigned, i signed, f float, 4 IPv4, 6 IPv6, m MAC, s string, o octets,
# b boolean, ds/dm/du/dn dateTime seconds/milliseconds/microseconds/nanoseconds.
_IANA = """
1 octetDeltaCount|2 packetDeltaCount|3 deltaFlowCount|4 protocolIdentifier|5 ipClassOfService
6 tcpControlBits|7 sourceTransportPort|8 sourceIPv4Address 4|9 sourceIPv4PrefixLength|10 ingressInterface
11 destinationTransportPort|12 destinationIPv4Address 4|13 destinationIPv4PrefixLength|14 egressInterface
15 ipNextHopIPv4Address 4|16 bgpSourceAsNumber|17 bgpDestinationAsNumber|18 bgpNextHopIPv4Address 4
19 postMCastPacketDeltaCount|20 postMCastOctetDeltaCount|21 flowEndSysUpTime|22 flowStartSysUpTime
23 postOctetDeltaCount|24 postPacketDeltaCount|25 minimumIpTotalLength|26 maximumIpTotalLength
27 sourceIPv6Address 6|28 destinationIPv6Address 6|29 sourceIPv6PrefixLength|30 destinationIPv6PrefixLength
31 flowLabelIPv6|32 icmpTypeCodeIPv4|33 igmpType|34 samplingInterval|35 samplingAlgorithm
36 flowActiveTimeout|37 flowIdleTimeout|38 engineType|39 engineId|40 exportedOctetTotalCount
41 exportedMessageTotalCount|42 exportedFlowRecordTotalCount|43 ipv4RouterSc 4|44 sourceIPv4Prefix 4
45 destinationIPv4Prefix 4|46 mplsTopLabelType|47 mplsTopLabelIPv4Address 4|48 samplerId|49 samplerMode
50 samplerRandomInterval|51 classId|52 minimumTTL|53 maximumTTL|54 fragmentIdentification
55 postIpClassOfService|56 sourceMacAddress m|57 postDestinationMacAddress m|58 vlanId|59 postVlanId
60 ipVersion|61 flowDirection|62 ipNextHopIPv6Address 6|63 bgpNextHopIPv6Address 6|64 ipv6ExtensionHeaders
70 mplsTopLabelStackSection o|71 mplsLabelStackSection2 o|72 mplsLabelStackSection3 o
73 mplsLabelStackSection4 o|74 mplsLabelStackSection5 o|75 mplsLabelStackSection6 o
76 mplsLabelStackSection7 o|77 mplsLabelStackSection8 o|78 mplsLabelStackSection9 o
79 mplsLabelStackSection10 o|80 destinationMacAddress m|81 postSourceMacAddress m|82 interfaceName s
83 interfaceDescription s|84 samplerName s|85 octetTotalCount|86 packetTotalCount|87 flagsAndSamplerId
88 fragmentOffset|89 forwardingStatus|90 mplsVpnRouteDistinguisher o|91 mplsTopLabelPrefixLength
92 srcTrafficIndex|93 dstTrafficIndex|94 applicationDescription s|95 applicationId o|96 applicationName s
98 postIpDiffServCodePoint|99 multicastReplicationFactor|100 className s|101 classificationEngineId
102 layer2packetSectionOffset|103 layer2packetSectionSize|104 layer2packetSectionData o
128 bgpNextAdjacentAsNumber|129 bgpPrevAdjacentAsNumber|130 exporterIPv4Address 4|131 exporterIPv6Address 6
132 droppedOctetDeltaCount|133 droppedPacketDeltaCount|134 droppedOctetTotalCount|135 droppedPacketTotalCount
136 flowEndReason|137 commonPropertiesId|138 observationPointId|139 icmpTypeCodeIPv6
140 mplsTopLabelIPv6Address 6|141 lineCardId|142 portId|143 meteringProcessId|144 exportingProcessId
145 templateId|146 wlanChannelId|147 wlanSSID s|148 flowId|149 observationDomainId
150 flowStartSeconds ds|151 flowEndSeconds ds|152 flowStartMilliseconds dm|153 flowEndMilliseconds dm
154 flowStartMicroseconds du|155 flowEndMicroseconds du|156 flowStartNanoseconds dn|157 flowEndNanoseconds dn
158 flowStartDeltaMicroseconds|159 flowEndDeltaMicroseconds|160 systemInitTimeMilliseconds dm
161 flowDurationMilliseconds|162 flowDurationMicroseconds|163 observedFlowTotalCount
164 ignoredPacketTotalCount|165 ignoredOctetTotalCount|166 notSentFlowTotalCount|167 notSentPacketTotalCount
168 notSentOctetTotalCount|169 destinationIPv6Prefix 6|170 sourceIPv6Prefix 6|171 postOctetTotalCount
172 postPacketTotalCount|173 flowKeyIndicator|174 postMCastPacketTotalCount|175 postMCastOctetTotalCount
176 icmpTypeIPv4|177 icmpCodeIPv4|178 icmpTypeIPv6|179 icmpCodeIPv6|180 udpSourcePort|181 udpDestinationPort
182 tcpSourcePort|183 tcpDestinationPort|184 tcpSequenceNumber|185 tcpAcknowledgementNumber|186 tcpWindowSize
187 tcpUrgentPointer|188 tcpHeaderLength|189 ipHeaderLength|190 totalLengthIPv4|191 payloadLengthIPv6
192 ipTTL|193 nextHeaderIPv6|194 mplsPayloadLength|195 ipDiffServCodePoint|196 ipPrecedence|197 fragmentFlags
198 octetDeltaSumOfSquares|199 octetTotalSumOfSquares|200 mplsTopLabelTTL|201 mplsLabelStackLength
202 mplsLabelStackDepth|203 mplsTopLabelExp|204 ipPayloadLength|205 udpMessageLength|206 isMulticast
207 ipv4IHL|208 ipv4Options|209 tcpOptions|210 paddingOctets o|211 collectorIPv4Address 4
212 collectorIPv6Address 6|213 exportInterface|214 exportProtocolVersion|215 exportTransportProtocol
216 collectorTransportPort|217 exporterTransportPort|218 tcpSynTotalCount|219 tcpFinTotalCount
220 tcpRstTotalCount|221 tcpPshTotalCount|222 tcpAckTotalCount|223 tcpUrgTotalCount|224 ipTotalLength
225 postNATSourceIPv4Address 4|226 postNATDestinationIPv4Address 4|227 postNAPTSourceTransportPort
228 postNAPTDestinationTransportPort|229 natOriginatingAddressRealm|230 natEvent|231 initiatorOctets
232 responderOctets|233 firewallEvent|234 ingressVRFID|235 egressVRFID|236 VRFname s|237 postMplsTopLabelExp
238 tcpWindowScale|239 biflowDirection|240 ethernetHeaderLength|241 ethernetPayloadLength
242 ethernetTotalLength|243 dot1qVlanId|244 dot1qPriority|245 dot1qCustomerVlanId|246 dot1qCustomerPriority
247 metroEvcId s|248 metroEvcType|249 pseudoWireId|250 pseudoWireType|251 pseudoWireControlWord
252 ingressPhysicalInterface|253 egressPhysicalInterface|254 postDot1qVlanId|255 postDot1qCustomerVlanId
256 ethernetType|257 postIpPrecedence|258 collectionTimeMilliseconds dm|259 exportSctpStreamId
260 maxExportSeconds ds|261 maxFlowEndSeconds ds|262 messageMD5Checksum o|263 messageScope
264 minExportSeconds ds|265 minFlowStartSeconds ds|266 opaqueOctets o|267 sessionScope
268 maxFlowEndMicroseconds du|269 maxFlowEndMilliseconds dm|270 maxFlowEndNanoseconds dn
271 minFlowStartMicroseconds du|272 minFlowStartMilliseconds dm|273 minFlowStartNanoseconds dn
274 collectorCertificate o|275 exporterCertificate o|276 dataRecordsReliability b|277 observationPointType
278 newConnectionDeltaCount|279 connectionSumDurationSeconds|280 connectionTransactionId
281 postNATSourceIPv6Address 6|282 postNATDestinationIPv6Address 6|283 natPoolId|284 natPoolName s
285 anonymizationFlags|286 anonymizationTechnique|287 informationElementIndex|288 p2pTechnology s
289 tunnelTechnology s|290 encryptedTechnology s|291 basicList o|292 subTemplateList o
293 subTemplateMultiList o|294 bgpValidityState|295 IPSecSPI|296 greKey|297 natType|298 initiatorPackets
299 responderPackets|300 observationDomainName s|301 selectionSequenceId|302 selectorId
303 informationElementId|304 selectorAlgorithm|305 samplingPacketInterval|306 samplingPacketSpace
307 samplingTimeInterval|308 samplingTimeSpace|309 samplingSize|310 samplingPopulation
311 samplingProbability f|312 dataLinkFrameSize|313 ipHeaderPacketSection o
314 ipPayloadPacketSection o|315 dataLinkFrameSection o
316 mplsLabelStackSection o|317 mplsPayloadPacketSection o|318 selectorIdTotalPktsObserved
319 selectorIdTotalPktsSelected|320 absoluteError f|321 relativeError f|322 observationTimeSeconds ds
323 observationTimeMilliseconds dm|324 observationTimeMicroseconds du|325 observationTimeNanoseconds dn
326 digestHashValue|327 hashIPPayloadOffset|328 hashIPPayloadSize|329 hashOutputRangeMin
330 hashOutputRangeMax|331 hashSelectedRangeMin|332 hashSelectedRangeMax|333 hashDigestOutput b
334 hashInitialiserValue
335 selectorName s|336 upperCILimit f|337 lowerCILimit f|338 confidenceLevel f|339 informationElementDataType
340 informationElementDescription s|341 informationElementName s|342 informationElementRangeBegin
343 informationElementRangeEnd|344 informationElementSemantics|345 informationElementUnits
346 privateEnterpriseNumber|347 virtualStationInterfaceId o|348 virtualStationInterfaceName s
349 virtualStationUUID o|350 virtualStationName s|351 layer2SegmentId|352 layer2OctetDeltaCount
353 layer2OctetTotalCount|354 ingressUnicastPacketTotalCount|355 ingressMulticastPacketTotalCount
356 ingressBroadcastPacketTotalCount|357 egressUnicastPacketTotalCount|358 egressBroadcastPacketTotalCount
359 monitoringIntervalStartMilliSeconds dm|360 monitoringIntervalEndMilliSeconds dm|361 portRangeStart
362 portRangeEnd|363 portRangeStepSize|364 portRangeNumPorts|365 staMacAddress m|366 staIPv4Address 4
367 wtpMacAddress m|368 ingressInterfaceType|369 egressInterfaceType|370 rtpSequenceNumber|371 userName s
372 applicationCategoryName s|373 applicationSubCategoryName s|374 applicationGroupName s
375 originalFlowsPresent|376 originalFlowsInitiated|377 originalFlowsCompleted
378 distinctCountOfSourceIPAddress|379 distinctCountOfDestinationIPAddress
380 distinctCountOfSourceIPv4Address|381 distinctCountOfDestinationIPv4Address
382 distinctCountOfSourceIPv6Address|383 distinctCountOfDestinationIPv6Address
"""

# Cisco elements: enterprise 9 in IPFIX (AVC / ART, WAAS) ...
_CISCO_PEN9 = """
8232 policyQosClassificationHierarchy|9252 waasoptimizationSegment|9265 artClientpackets|9266 artServerpackets
9268 artCountRetransmissions|9272 artCountTransactions|9273 artTotalTransactionTimeSum
9274 artTotalTransactionTimeMaximum|9275 artTotalTransactionTimeMinimum|9282 artCountNewConnections
9292 artCountResponses|9300 artCountLateResponses|9303 artResponseTimeSum|9304 artResponseTimeMaximum
9305 artResponseTimeMinimum|9306 artServerResponseTimeSum|9307 artServerResponseTimeMaximum
9308 artServerResponseTimeMinimum|9309 artTotalResponseTimeSum|9310 artTotalResponseTimeMaximum
9311 artTotalResponseTimeMinimum|9313 artNetworkTimeSum|9314 artNetworkTimeMaximum|9315 artNetworkTimeMinimum
9316 artClientNetworkTimeSum|9317 artClientNetworkTimeMaximum|9318 artClientNetworkTimeMinimum
9319 artServerNetworkTimeSum|9320 artServerNetworkTimeMaximum|9321 artServerNetworkTimeMinimum
9357 applicationHttpUriStatistics o|9360 policyQosQueueIndex|9361 policyQosQueueDrops
12232 applicationCategoryName|12233 applicationSubCategoryName|12234 applicationGroupName
12235 applicationHttpUserAgent o|12243 applicationTrafficClass|12244 applicationBusinessRelevance
"""

# ... and NetFlow v9 numbers above the IANA range (ASA NSEL, IOS zone firewall).
_CISCO_V9 = """
33000 ingressAclID o|33001 egressAclID o|33002 fwExtEvent|33003 fwEventLevel|33004 fwEventLevelID
33005 fwConfiguredValue|34000 fwCtsSrcSGT|35001 fwExtEventAlt|35004 fwBlackoutSecs|35005 fwHalfOpenHigh
35006 fwHalfOpenRate|35007 fwZonePairID|35008 fwMaxSessions|35009 fwZonePairName|35010 fwExtEventDesc s
35011 fwSummaryPktCount|35012 fwHalfOpenCount|40000 username s|40001 xlateSourceAddressIPV4 4
40002 xlateDestinationAddressIPV4 4|40003 xlateSourcePort|40004 xlateDestinationPort|40005 firewallEvent
"""


def _table(text: str, *, offset: int = 0) -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    for entry in text.replace("\n", "|").split("|"):
        parts = entry.split()
        if parts:
            out[int(parts[0]) + offset] = (parts[1], parts[2] if len(parts) > 2 else "u")
    return out


IANA_ELEMENTS: dict[int, tuple[str, str]] = _table(_IANA)
"""IANA element id -> (camelCase name, type code)."""
CISCO_PEN9_ELEMENTS: dict[int, tuple[str, str]] = _table(_CISCO_PEN9)
"""Cisco (enterprise 9) element id -> (name, type code)."""
CISCO_V9_ELEMENTS: dict[int, tuple[str, str]] = _table(_CISCO_V9)
"""Cisco NetFlow v9-only element id -> (name, type code)."""


def snake_case(name: str) -> str:
    """Filebeat's camelCase -> snake_case for IPFIX names (``sourceIPv4Address`` ->
    ``source_ipv4_address``, ``postNATSourceIPv4Address`` -> ``post_nat_source_ipv4_address``)."""
    out: list[str] = []
    upper_run = 1
    for ch in name:
        low = ch.lower()
        if low != ch:
            if upper_run == 0:
                out.append("_")
            upper_run += 1
        else:
            if upper_run > 2:  # an acronym run: its last capital starts the next word
                out.append("_")
                out[-1], out[-2] = out[-2], out[-1]
            upper_run = 0
        out.append(low)
    return "".join(out)


def field_name(element_id: int, enterprise: int = 0, *, v9: bool = False) -> tuple[str, str]:
    """(snake_case name, type code) of an element; unknown ones get ``ie_<pen>_<id>``, octets."""
    entry: tuple[str, str] | None = None
    if enterprise == 0:
        entry = IANA_ELEMENTS.get(element_id)
        if entry is None and v9:
            entry = CISCO_V9_ELEMENTS.get(element_id)
    elif enterprise == 9:
        entry = CISCO_PEN9_ELEMENTS.get(element_id)
    if entry is None:
        return f"ie_{enterprise}_{element_id}", "x"
    name, kind = entry
    return (name if "_" in name else snake_case(name)), kind


# --- value conversion ----------------------------------------------------------------------------------


def _iso(ts: datetime) -> str:
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_unix(seconds: float) -> str:
    return _iso(_EPOCH + timedelta(seconds=seconds))


def _ntp(data: bytes) -> str:
    secs, frac = struct.unpack(">II", data)
    return _from_unix(secs - NTP_EPOCH_OFFSET + frac / 2**32)


def _unsigned(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _convert(kind: str, data: bytes) -> Any:
    """One element value from its bytes by type code (lengths already checked by the caller)."""
    n = len(data)
    if kind == "u":
        return int.from_bytes(data, "big") if n <= 8 else base64.b64encode(data).decode()
    if kind == "4":
        return str(ipaddress.IPv4Address(data)) if n == 4 else base64.b64encode(data).decode()
    if kind == "6":
        return str(ipaddress.IPv6Address(data)) if n == 16 else base64.b64encode(data).decode()
    if kind == "m":
        return "-".join(f"{b:02X}" for b in data)
    if kind == "s":
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")
    if kind == "o":
        return base64.b64encode(data).decode()
    if kind == "i":
        return int.from_bytes(data, "big", signed=True)
    if kind == "f":
        if n == 8:
            return struct.unpack(">d", data)[0]
        if n == 4:
            return struct.unpack(">f", data)[0]
        return base64.b64encode(data).decode()
    if kind == "b":
        return data[:1] == b"\x01"
    if kind == "ds":
        return _from_unix(int.from_bytes(data, "big"))
    if kind == "dm":
        return _from_unix(int.from_bytes(data, "big") / 1000)
    if kind in ("du", "dn"):
        return _ntp(data) if n == 8 else int.from_bytes(data, "big")
    return data.hex()  # "x": unknown element


# --- templates -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a template: element id, length (65535 = variable), enterprise number."""

    element_id: int
    length: int
    enterprise: int = 0
    name: str = ""
    kind: str = "u"


@dataclass(frozen=True, slots=True)
class Template:
    """A data or options template. ``scope_count`` > 0 (the first fields) marks options."""

    template_id: int
    fields: tuple[FieldSpec, ...]
    scope_count: int = 0
    options: bool = False

    @property
    def min_record_length(self) -> int:
        """Bytes of the smallest record: fixed lengths plus 1 per variable-length field."""
        return sum(1 if f.length == VARIABLE_LENGTH else f.length for f in self.fields)

    @property
    def fixed(self) -> bool:
        return all(f.length != VARIABLE_LENGTH for f in self.fields)


def _spec(element_id: int, length: int, enterprise: int, *, v9: bool) -> FieldSpec:
    name, kind = field_name(element_id, enterprise, v9=v9)
    return FieldSpec(element_id, length, enterprise, name, kind)


@dataclass(slots=True)
class _Header:
    version: int
    exporter: str
    domain: int
    export_time: int
    uptime_millis: int
    sequence: int

    def exporter_obj(self) -> dict[str, Any]:
        return {
            "address": self.exporter,
            "source_id": self.domain,
            "timestamp": _from_unix(self.export_time),
            "uptime_millis": self.uptime_millis,
            "version": self.version,
        }


@dataclass(slots=True)
class _Pending:
    arrived: float
    header: _Header
    body: bytes


TemplateKey = tuple[str, int, int]


@dataclass
class NetflowDecoder:
    """Stateful decoder of export packets from any number of exporters.

    ``decode(packet, exporter)`` returns the flow records it could decode (including
    held data sets whose template this packet brought), and raises
    :class:`NetflowDecodeError` for a malformed packet, after keeping what came before
    the fault in :attr:`last_partial`. ``counters`` holds ``packets``, ``flows``,
    ``options``, ``templates``, ``templates_withdrawn``, ``pending_held``,
    ``pending_decoded``, ``pending_expired``, ``pending_dropped``, ``errors``.
    """

    max_pending: int = 1024
    pending_ttl: float = 120.0
    clock: Callable[[], float] = time.monotonic
    templates: dict[TemplateKey, Template] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    last_partial: list[Flow] = field(default_factory=list)
    _pending: OrderedDict[tuple[TemplateKey, int], _Pending] = field(default_factory=OrderedDict)
    _init_times: dict[tuple[str, int], str] = field(default_factory=dict)
    _pending_seq: int = 0

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    @property
    def pending_count(self) -> int:
        """Data sets held for a template that has not arrived yet."""
        return len(self._pending)

    def decode(self, packet: bytes, exporter: str) -> list[Flow]:
        """Decode one export packet from ``exporter`` (``"ip:port"``)."""
        self.count("packets")
        self.expire()
        out: list[Flow] = []
        self.last_partial = out
        try:
            if len(packet) < 2:
                raise NetflowDecodeError(f"packet of {len(packet)} bytes is too short for a version")
            version = struct.unpack_from(">H", packet)[0]
            if version == 5:
                self._v5(packet, exporter, out)
            elif version == 9:
                self._v9(packet, exporter, out)
            elif version == 10:
                self._ipfix(packet, exporter, out)
            else:
                raise NetflowDecodeError(f"unsupported NetFlow version {version} (expected 5, 9 or 10)")
        except NetflowDecodeError:
            self.count("errors")
            raise
        except (struct.error, ValueError, IndexError, OverflowError) as exc:  # a bound we did not check
            self.count("errors")
            raise NetflowDecodeError(f"malformed packet: {type(exc).__name__}: {exc}") from exc
        return out

    # --- NetFlow v5 -------------------------------------------------------------------------------

    _V5_HEADER = struct.Struct(">HHIIIIBBH")
    _V5_RECORD = struct.Struct(">4s4s4sHHIIIIHHxBBBHHBBxx")

    def _v5(self, packet: bytes, exporter: str, out: list[Flow]) -> None:
        if len(packet) < 24:
            raise NetflowDecodeError(f"NetFlow v5 header needs 24 bytes, packet has {len(packet)}")
        _, count, uptime, secs, _nsecs, seq, engine_type, engine_id, sampling = self._V5_HEADER.unpack_from(
            packet
        )
        if not 1 <= count <= 30:
            raise NetflowDecodeError(f"NetFlow v5 header count {count} is not in 1..30")
        need = 24 + 48 * count
        if len(packet) < need:
            raise NetflowDecodeError(f"NetFlow v5 with {count} records needs {need} bytes, got {len(packet)}")
        header = _Header(5, exporter, 0, secs, uptime, seq)
        exp = header.exporter_obj()
        exp["engine_type"] = engine_type
        exp["engine_id"] = engine_id
        exp["sampling_interval"] = sampling & 0x3FFF
        for i in range(count):
            r = self._V5_RECORD.unpack_from(packet, 24 + 48 * i)
            out.append(
                {
                    "type": "netflow_flow",
                    "exporter": exp,
                    "source_ipv4_address": str(ipaddress.IPv4Address(r[0])),
                    "destination_ipv4_address": str(ipaddress.IPv4Address(r[1])),
                    "ip_next_hop_ipv4_address": str(ipaddress.IPv4Address(r[2])),
                    "ingress_interface": r[3],
                    "egress_interface": r[4],
                    "packet_delta_count": r[5],
                    "octet_delta_count": r[6],
                    "flow_start_sys_up_time": r[7],
                    "flow_end_sys_up_time": r[8],
                    "source_transport_port": r[9],
                    "destination_transport_port": r[10],
                    "tcp_control_bits": r[11],
                    "protocol_identifier": r[12],
                    "ip_class_of_service": r[13],
                    "bgp_source_as_number": r[14],
                    "bgp_destination_as_number": r[15],
                    "source_ipv4_prefix_length": r[16],
                    "destination_ipv4_prefix_length": r[17],
                }
            )
        self.count("flows", count)

    # --- NetFlow v9 -------------------------------------------------------------------------------

    def _v9(self, packet: bytes, exporter: str, out: list[Flow]) -> None:
        if len(packet) < 20:
            raise NetflowDecodeError(f"NetFlow v9 header needs 20 bytes, packet has {len(packet)}")
        _, _count, uptime, secs, seq, source_id = struct.unpack_from(">HHIIII", packet)
        header = _Header(9, exporter, source_id, secs, uptime, seq)
        self._sets(packet, 20, header, out, template_set=0, options_set=1)

    # --- IPFIX ------------------------------------------------------------------------------------

    def _ipfix(self, packet: bytes, exporter: str, out: list[Flow]) -> None:
        if len(packet) < 16:
            raise NetflowDecodeError(f"IPFIX message header needs 16 bytes, packet has {len(packet)}")
        _, length, secs, seq, domain = struct.unpack_from(">HHIII", packet)
        if length < 16 or length > len(packet):
            raise NetflowDecodeError(
                f"IPFIX message length {length} does not fit the {len(packet)}-byte packet"
            )
        header = _Header(10, exporter, domain, secs, 0, seq)
        self._sets(packet[:length], 16, header, out, template_set=2, options_set=3)

    # --- sets ---------------------------------------------------------------------------------------

    def _sets(
        self,
        packet: bytes,
        pos: int,
        header: _Header,
        out: list[Flow],
        *,
        template_set: int,
        options_set: int,
    ) -> None:
        v9 = header.version == 9
        end = len(packet)
        while pos + 4 <= end:
            set_id, set_len = struct.unpack_from(">HH", packet, pos)
            if set_len == 0 and v9 and not any(packet[pos:]):
                return  # zero padding after the last flowset (seen from PAN-OS)
            if set_len < 4 or pos + set_len > end:
                raise NetflowDecodeError(
                    f"set {set_id} at offset {pos} has length {set_len}, beyond the {end}-byte packet"
                )
            body = packet[pos + 4 : pos + set_len]
            if set_id == template_set:
                self._templates(body, header, out, options=False)
            elif set_id == options_set:
                self._templates(body, header, out, options=True)
            elif set_id >= 256:
                key = (header.exporter, header.domain, set_id)
                template = self.templates.get(key)
                if template is None:
                    self._hold(key, header, body)
                else:
                    self._data(template, body, header, out)
            else:
                self.count("sets_skipped")  # reserved set ids
            pos += set_len

    def _templates(self, body: bytes, header: _Header, out: list[Flow], *, options: bool) -> None:
        v9 = header.version == 9
        pos, end = 0, len(body)
        while pos + 4 <= end:
            if v9 and options:
                if pos + 6 > end:
                    break
                tid, scope_len, opt_len = struct.unpack_from(">HHH", body, pos)
                pos += 6
                if scope_len % 4 or opt_len % 4 or pos + scope_len + opt_len > end:
                    raise NetflowDecodeError(
                        f"v9 options template {tid}: scope length {scope_len} / option length {opt_len} "
                        f"do not fit the set"
                    )
                specs = []
                for _ in range((scope_len + opt_len) // 4):
                    fid, flen = struct.unpack_from(">HH", body, pos)
                    pos += 4
                    specs.append(_spec(fid, flen, 0, v9=True))
                scope = scope_len // 4
            else:
                tid, count = struct.unpack_from(">HH", body, pos)
                pos += 4
                scope = 0
                if options:
                    if pos + 2 > end:
                        raise NetflowDecodeError(f"options template {tid}: missing scope field count")
                    scope = struct.unpack_from(">H", body, pos)[0] if count else 0
                    pos += 2 if count else 0
                if tid == 0 and count == 0 and not options:
                    break  # padding
                if count == 0 and not v9:
                    self._withdraw(header, tid)
                    continue
                specs = []
                for _ in range(count):
                    if pos + 4 > end:
                        raise NetflowDecodeError(f"template {tid}: field specifier beyond the set end")
                    fid, flen = struct.unpack_from(">HH", body, pos)
                    pos += 4
                    pen = 0
                    if not v9 and fid & 0x8000:
                        if pos + 4 > end:
                            raise NetflowDecodeError(f"template {tid}: enterprise number beyond the set end")
                        pen = struct.unpack_from(">I", body, pos)[0]
                        pos += 4
                        fid &= 0x7FFF
                    if v9 and flen == VARIABLE_LENGTH:
                        raise NetflowDecodeError(f"v9 template {tid}: variable-length field {fid}")
                    specs.append(_spec(fid, flen, pen, v9=v9))
                if scope > len(specs):
                    raise NetflowDecodeError(
                        f"options template {tid}: scope count {scope} > {len(specs)} fields"
                    )
            if tid < 256:
                raise NetflowDecodeError(f"template id {tid} is reserved (must be >= 256)")
            template = Template(tid, tuple(specs), scope, options)
            key = (header.exporter, header.domain, tid)
            self.templates[key] = template
            self.count("templates")
            self._release(key, template, out)

    def _withdraw(self, header: _Header, tid: int) -> None:
        if tid in (2, 3):  # all (options) templates of this domain
            gone = [k for k, t in self.templates.items() if k[:2] == (header.exporter, header.domain)
                    and t.options == (tid == 3)]  # fmt: skip
        else:
            gone = [(header.exporter, header.domain, tid)]
        for key in gone:
            if self.templates.pop(key, None) is not None:
                self.count("templates_withdrawn")

    # --- data ---------------------------------------------------------------------------------------

    def _data(self, template: Template, body: bytes, header: _Header, out: list[Flow]) -> None:
        exp = header.exporter_obj()
        init = self._init_times.get((header.exporter, header.domain))
        if init is not None:  # announced in an options record: flow sysUpTimes count from it
            exp["system_init_time"] = init
        minimum = template.min_record_length
        if minimum == 0:
            return  # a template of zero-length fields carries no records
        pos, end = 0, len(body)
        fields = template.fields
        while end - pos >= minimum:
            record: dict[str, Any] = {}
            for spec in fields:
                length = spec.length
                if length == VARIABLE_LENGTH:
                    length = body[pos]
                    pos += 1
                    if length == 255:
                        if pos + 2 > end:
                            raise NetflowDecodeError(f"template {template.template_id}: truncated length")
                        length = struct.unpack_from(">H", body, pos)[0]
                        pos += 2
                if pos + length > end:
                    if template.fixed or not any(body[pos:]):
                        break
                    raise NetflowDecodeError(
                        f"template {template.template_id}: field {spec.name} runs past the data set end"
                    )
                record[spec.name] = _convert(spec.kind, body[pos : pos + length])
                pos += length
            else:
                out.append(self._shape(template, record, exp))
                continue
            break

    def _shape(self, template: Template, record: dict[str, Any], exp: dict[str, Any]) -> Flow:
        if template.options:
            self.count("options")
            names = [f.name for f in template.fields]
            scope_names = set(names[: template.scope_count])
            init = record.get("system_init_time_milliseconds")
            if isinstance(init, str):
                address = exp["address"], int(exp["source_id"])
                self._init_times[address] = init
            return {
                "type": "netflow_options",
                "exporter": exp,
                "scope": {k: v for k, v in record.items() if k in scope_names},
                "options": {k: v for k, v in record.items() if k not in scope_names},
            }
        self.count("flows")
        return {"type": "netflow_flow", "exporter": exp, **record}

    # --- data before its template -------------------------------------------------------------------

    def _hold(self, key: TemplateKey, header: _Header, body: bytes) -> None:
        self._pending_seq += 1
        self._pending[(key, self._pending_seq)] = _Pending(self.clock(), header, body)
        self.count("pending_held")
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
            self.count("pending_dropped")

    def _release(self, key: TemplateKey, template: Template, out: list[Flow]) -> None:
        ready = [k for k in self._pending if k[0] == key]
        for k in ready:
            held = self._pending.pop(k)
            self.count("pending_decoded")
            self._data(template, held.body, held.header, out)

    def expire(self) -> int:
        """Forget held data sets older than ``pending_ttl``; returns how many."""
        if not self._pending:
            return 0
        limit = self.clock() - self.pending_ttl
        old = [k for k, p in self._pending.items() if p.arrived < limit]
        for k in old:
            del self._pending[k]
        if old:
            self.count("pending_expired", len(old))
        return len(old)
