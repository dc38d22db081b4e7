import ChatCore

/// Spans as OTLP/HTTP's JSON encoding writes an `ExportTraceServiceRequest`: proto3's JSON mapping, except that
/// trace and span ids are hex (not base64) and enums are numbers, as the OTLP specification asks.
enum OTLPEncoding {
    /// What every span of this process shares: the service and the instrumentation scope.
    struct Resource: Sendable {
        var attributes: [(key: String, value: SpanValue)]
        var scopeName: String
        var scopeVersion: String
    }

    static func request(_ spans: [Span], resource: Resource) -> String {
        var scope = JSONWriter(capacity: 64)
        scope.field("name", resource.scopeName)
        scope.field("version", resource.scopeVersion)
        var scopeSpans = JSONWriter(capacity: spans.count * 400 + 100)
        scopeSpans.field("scope", rawJSON: scope.finish())
        scopeSpans.array("spans", spans.map(span))
        var resourceObject = JSONWriter()
        resourceObject.array("attributes", resource.attributes.map(attribute))
        var resourceSpans = JSONWriter(capacity: spans.count * 400 + 300)
        resourceSpans.field("resource", rawJSON: resourceObject.finish())
        resourceSpans.array("scopeSpans", [scopeSpans.finish()])
        var request = JSONWriter(capacity: spans.count * 400 + 320)
        request.array("resourceSpans", [resourceSpans.finish()])
        return request.finish()
    }

    static func span(_ span: Span) -> String {
        var json = JSONWriter(capacity: 400)
        json.field("traceId", span.context.traceID)
        json.field("spanId", span.context.spanIDText)
        if let parent = span.parentSpanID { json.field("parentSpanId", SpanContext.hex(parent)) }
        json.field("name", span.name)
        json.field("kind", span.kind.rawValue)
        // 64-bit integers are strings in proto3's JSON (a double could not hold a nanosecond time).
        json.field("startTimeUnixNano", String(span.startTime))
        json.field("endTimeUnixNano", String(span.endTime))
        json.array("attributes", span.attributes.map(attribute))
        if let failure = span.failure {
            var status = JSONWriter(capacity: 64)
            status.field("code", 2)  // STATUS_CODE_ERROR
            status.field("message", failure)
            json.field("status", rawJSON: status.finish())
        }
        return json.finish()
    }

    static func attribute(_ attribute: (key: String, value: SpanValue)) -> String {
        var value = JSONWriter(capacity: 48)
        switch attribute.value {
        case .string(let text): value.field("stringValue", text)
        case .int(let number): value.field("intValue", String(number))
        case .bool(let flag): value.field("boolValue", flag)
        }
        var json = JSONWriter(capacity: 80)
        json.field("key", attribute.key)
        json.field("value", rawJSON: value.finish())
        return json.finish()
    }
}
