<?php
// Interop scenario for php-amqp (Debian php-amqp 1.11 on librabbitmq 0.11), driven by
// test/interop/php-amqp.test.ts.
//
// Usage: php php_amqp_scenario.php <port> <spec-json>
// Prints one JSON object per line on stdout (see test/interop/scenario.ts for the shape).
// Header values use tags for the types JSON lacks: {"$decimal": "3.14"}, {"$timestamp": 1700000000},
// {"$bytes": "00ff"} (php-amqp has AMQPDecimal and AMQPTimestamp; it has no byte-array type).
// php-amqp exposes no basic.get-ok message-count, and reports a channel error as an
// exception whose code is the reply code and whose message wraps the reply text.

function emit(string $step, array $fields = []): void {
    echo json_encode(['step' => $step] + $fields, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
}

function from_json($v) {
    if (is_array($v)) {
        if (count($v) === 1 && !array_is_list($v)) {
            $k = array_key_first($v);
            $x = $v[$k];
            if ($k === '$decimal') {
                $parts = explode('.', $x);
                $frac = $parts[1] ?? '';
                return new AMQPDecimal(strlen($frac), (int)($parts[0] . $frac));
            }
            if ($k === '$timestamp') return new AMQPTimestamp((float)$x);
            if ($k === '$bytes') return hex2bin($x);
        }
        return array_map('from_json', $v);
    }
    return $v;
}

function to_json($v) {
    // an empty PHP array may have been an empty table or an empty array; the scenario sends no empty table
    if (is_array($v)) return array_is_list($v) ? array_map('to_json', $v) : (object)array_map('to_json', $v);
    if ($v instanceof AMQPDecimal) {
        $s = str_pad((string)$v->getSignificand(), $v->getExponent() + 1, '0', STR_PAD_LEFT);
        return ['$decimal' => $v->getExponent() === 0 ? $s : substr($s, 0, -$v->getExponent()) . '.' . substr($s, -$v->getExponent())];
    }
    if ($v instanceof AMQPTimestamp) return ['$timestamp' => (int)$v->getTimestamp()];
    if (is_string($v) && !preg_match('//u', $v)) return ['$bytes' => bin2hex($v)];
    return $v;
}

function props_to_json(AMQPEnvelope $e): array {
    $out = [
        'content_type' => $e->getContentType(),
        'content_encoding' => $e->getContentEncoding(),
        'headers' => to_json($e->getHeaders()),
        'delivery_mode' => $e->getDeliveryMode(),
        'priority' => $e->getPriority(),
        'correlation_id' => $e->getCorrelationId(),
        'reply_to' => $e->getReplyTo(),
        'expiration' => $e->getExpiration(),
        'message_id' => $e->getMessageId(),
        'timestamp' => $e->getTimestamp(),
        'type' => $e->getType(),
        'user_id' => $e->getUserId(),
        'app_id' => $e->getAppId(),
        'cluster_id' => $e->getClusterId(),
    ];
    // php-amqp reports an absent property as "" (or 0): only non-empty values count as present
    return array_filter($out, fn($v) => $v !== null && $v !== '');
}

$port = (int)$argv[1];
$spec = json_decode($argv[2], true, 512, JSON_THROW_ON_ERROR);
$p = $spec['prefix'];

$conn = new AMQPConnection(['host' => '127.0.0.1', 'port' => $port, 'login' => 'guest', 'password' => 'guest', 'vhost' => '/',
    'connect_timeout' => 10, 'read_timeout' => 10, 'write_timeout' => 10]);
$conn->connect();
emit('connect');
$ch = new AMQPChannel($conn);

$direct = new AMQPExchange($ch);
$direct->setName("$p.direct");
$direct->setType(AMQP_EX_TYPE_DIRECT);
$direct->declareExchange();
foreach (['props', 'props-js', 'props-raw'] as $suffix) {
    $q = new AMQPQueue($ch);
    $q->setName("$p.$suffix");
    $q->setFlags(AMQP_NOPARAM); // php-amqp's default is AMQP_AUTODELETE
    $count = $q->declareQueue(); // php-amqp returns the message count only
    $q->bind("$p.direct", 'props');
    emit('declare', ['queue' => $q->getName(), 'message_count' => $count]);
}

$attrs = array_map('from_json', $spec['props']);
$body = hex2bin($spec['body_hex']);
$direct->publish($body, 'props', AMQP_NOPARAM, $attrs);

$q = new AMQPQueue($ch);
$q->setName("$p.props");
$q->consume(function (AMQPEnvelope $e, AMQPQueue $q) use ($p) {
    emit('consume', ['exchange' => $e->getExchangeName(), 'routing_key' => $e->getRoutingKey(), 'redelivered' => $e->isRedelivery(),
        'body_hex' => bin2hex($e->getBody()), 'props' => props_to_json($e)]);
    $q->ack($e->getDeliveryTag());
    return false; // stop consuming
});
$q->cancel();

$fq = new AMQPQueue($ch);
$fq->setName("$p.from-js");
$e = $fq->get(AMQP_NOPARAM);
if ($e === false) throw new RuntimeException('basic.get found the from-js queue empty');
emit('get', ['redelivered' => $e->isRedelivery(), 'routing_key' => $e->getRoutingKey(),
    'body_hex' => bin2hex($e->getBody()), 'props' => props_to_json($e)]);
$fq->ack($e->getDeliveryTag());
emit('get_empty', ['empty' => $fq->get(AMQP_NOPARAM) === false]);

// publisher confirms: the ack callback counts; returning false ends waitForConfirm
$cch = new AMQPChannel($conn);
$cch->confirmSelect();
$cq = new AMQPQueue($cch);
$cq->setName("$p.confirms");
$cq->setFlags(AMQP_DURABLE);
$cq->declareQueue();
$acked = 0;
$nacked = 0;
$cch->setConfirmCallback(
    function (int $tag, bool $multiple) use (&$acked) { $acked = $multiple ? $tag : $acked + 1; return $acked < 3; },
    function (int $tag, bool $multiple, bool $requeue) use (&$nacked) { $nacked++; return false; }
);
$dx = new AMQPExchange($cch); // the default exchange
for ($i = 0; $i < 3; $i++) $dx->publish("confirm-$i", "$p.confirms", AMQP_MANDATORY, ['delivery_mode' => 2]);
$cch->waitForConfirm(5.0);
emit('confirms', ['published' => 3, 'confirmed' => $acked, 'nacked' => $nacked]);

$topic = new AMQPExchange($ch);
$topic->setName("$p.topic");
$topic->setType(AMQP_EX_TYPE_TOPIC);
$topic->declareExchange();
$tqueues = [];
foreach ($spec['topic']['bindings'] as [$suffix, $pattern]) {
    $tq = new AMQPQueue($ch);
    $tq->setName("$p.$suffix");
    $tq->setFlags(AMQP_EXCLUSIVE);
    $tq->declareQueue();
    $tq->bind("$p.topic", $pattern);
    $tqueues[$suffix] = $tq;
}
foreach ($spec['topic']['publish'] as $rk) $topic->publish($rk, $rk);
foreach ($tqueues as $suffix => $tq) {
    $keys = [];
    while (($e = $tq->get(AMQP_AUTOACK)) !== false) $keys[] = $e->getRoutingKey();
    emit('topic', ['queue' => $suffix, 'routing_keys' => $keys]);
}

$ech = new AMQPChannel($conn);
$mq = new AMQPQueue($ech);
$mq->setName("$p.missing");
$mq->setFlags(AMQP_PASSIVE);
try {
    $mq->declareQueue();
    emit('error', ['code' => null, 'text' => 'passive declare of a missing queue succeeded']);
} catch (AMQPQueueException $e) {
    emit('error', ['code' => $e->getCode(), 'text' => $e->getMessage(), 'exception' => get_class($e), 'channel_open' => $ech->isConnected()]);
}
emit('after_error', ['connection_open' => $conn->isConnected(), 'channel_ok' => $ch->isConnected()]);
$conn->disconnect();
emit('done');
