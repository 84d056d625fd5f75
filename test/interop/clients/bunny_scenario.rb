#!/usr/bin/env ruby
# Interop scenario for Bunny (Debian ruby-bunny 2.19, amq-protocol 2.3), driven by
# test/interop/bunny.test.ts.
#
# Usage: bunny_scenario.rb <port> <spec-json>
# Prints one JSON object per line on stdout (see test/interop/scenario.ts for the shape).
# Header values use tags for the types JSON lacks: {"$decimal": "3.14"}, {"$timestamp": 1700000000},
# {"$bytes": "00ff"}. amq-protocol 2.3 encodes a BigDecimal wrongly (3.14 goes out as 3) and has
# no byte-array encoder, so the spec given to this script has neither.
require 'bunny'
require 'bigdecimal'
require 'json'
require 'logger'
require 'timeout'

$stdout.sync = true

def emit(step, fields = {})
  puts JSON.generate({ 'step' => step }.merge(fields))
end

def from_json(v)
  case v
  when Hash
    if v.size == 1
      k, x = v.first
      return BigDecimal(x) if k == '$decimal'
      return Time.at(x).utc if k == '$timestamp'
      return [x].pack('H*') if k == '$bytes'
    end
    v.to_h { |k, x| [k, from_json(x)] }
  when Array then v.map { |x| from_json(x) }
  else v
  end
end

def to_json_value(v)
  case v
  when Hash then v.to_h { |k, x| [k.to_s, to_json_value(x)] }
  when Array then v.map { |x| to_json_value(x) }
  when BigDecimal then { '$decimal' => v.to_s('F').sub(/\.0\z/, '') }
  when Time then { '$timestamp' => v.to_i }
  when String
    s = v.dup.force_encoding(Encoding::UTF_8)
    s.valid_encoding? ? s : { '$bytes' => v.unpack1('H*') }
  else v
  end
end

PROP_NAMES = %i[content_type content_encoding headers delivery_mode priority correlation_id reply_to
                expiration message_id timestamp type user_id app_id cluster_id].freeze

def props_to_json(props)
  out = {}
  PROP_NAMES.each do |name|
    v = props.send(name)
    out[name.to_s] = to_json_value(v) unless v.nil?
  end
  out['timestamp'] = out['timestamp']['$timestamp'] if out['timestamp'].is_a?(Hash)
  out
end

port = Integer(ARGV[0])
spec = JSON.parse(ARGV[1])
p = spec['prefix']

conn = Bunny.new(host: '127.0.0.1', port: port, user: 'guest', password: 'guest', vhost: '/',
                 automatically_recover: false, connection_timeout: 10, read_timeout: 10,
                 continuation_timeout: 10_000, logger: Logger.new(IO::NULL))
conn.start
emit('connect', 'server_product' => conn.server_properties['product'])
ch = conn.create_channel

x = ch.direct("#{p}.direct", durable: false)
%w[props props-js props-raw].each do |suffix|
  ok = ch.queue_declare("#{p}.#{suffix}", durable: false)
  ch.queue_bind("#{p}.#{suffix}", x, routing_key: 'props')
  emit('declare', 'queue' => ok.queue, 'message_count' => ok.message_count, 'consumer_count' => ok.consumer_count)
end

body = [spec['body_hex']].pack('H*')
props = spec['props'].to_h { |k, v| [k.to_sym, from_json(v)] }
emit('self_encoding', 'hex' => AMQ::Protocol::Basic.encode_properties(body.bytesize, props).unpack1('H*'))
x.publish(body, props.merge(routing_key: 'props'))

deliveries = Queue.new
q = ch.queue("#{p}.props", durable: false, no_declare: true)
consumer = q.subscribe(manual_ack: true) { |info, mprops, payload| deliveries << [info, mprops, payload] }
info, mprops, payload = Timeout.timeout(10) { deliveries.pop }
emit('consume', 'exchange' => info.exchange, 'routing_key' => info.routing_key, 'redelivered' => info.redelivered?,
                'body_hex' => payload.unpack1('H*'), 'props' => props_to_json(mprops))
ch.ack(info.delivery_tag)
consumer.cancel

fq = ch.queue("#{p}.from-js", durable: false, no_declare: true)
info, gprops, payload = fq.pop(manual_ack: true)
raise 'basic.get found the from-js queue empty' if info.nil?
# Bunny::GetResponse does not expose basic.get-ok's message-count; read it from the wrapped method
emit('get', 'message_count' => info.instance_variable_get(:@get_ok).message_count, 'redelivered' => info.redelivered?, 'routing_key' => info.routing_key,
            'body_hex' => payload.unpack1('H*'), 'props' => props_to_json(gprops))
ch.ack(info.delivery_tag)
info, = fq.pop(manual_ack: true)
emit('get_empty', 'empty' => info.nil?)

# publisher confirms
cch = conn.create_channel
cch.confirm_select
cq = cch.queue("#{p}.confirms", durable: true)
3.times { |i| cch.default_exchange.publish("confirm-#{i}", routing_key: cq.name, persistent: true, mandatory: true) }
all_acked = cch.wait_for_confirms
emit('confirms', 'published' => 3, 'confirmed' => all_acked && cch.nacked_set.empty? ? 3 : 3 - cch.nacked_set.size - cch.unconfirmed_set.size)

t = ch.topic("#{p}.topic", durable: false)
tqueues = spec['topic']['bindings'].map do |suffix, pattern|
  [suffix, ch.queue("#{p}.#{suffix}", exclusive: true).bind(t, routing_key: pattern)]
end
spec['topic']['publish'].each { |rk| t.publish(rk, routing_key: rk) }
tqueues.each do |suffix, tq|
  keys = []
  loop do
    info, = tq.pop
    break if info.nil?
    keys << info.routing_key
  end
  emit('topic', 'queue' => suffix, 'routing_keys' => keys)
end

ech = conn.create_channel
begin
  ech.queue("#{p}.missing", passive: true)
  emit('error', 'code' => nil, 'text' => 'passive declare of a missing queue succeeded')
rescue Bunny::NotFound => e
  emit('error', 'code' => e.channel_close.reply_code, 'text' => e.channel_close.reply_text, 'exception' => e.class.name,
                'channel_open' => ech.open?)
end
emit('after_error', 'connection_open' => conn.open?, 'channel_ok' => ch.open?)
conn.close
emit('done')
