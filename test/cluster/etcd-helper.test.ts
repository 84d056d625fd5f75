import { afterAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { TestEtcd } from '../helpers/etcd.js';

describe('test etcd helper', () => {
  let etcd: TestEtcd | null = null;
  afterAll(async () => {
    await etcd?.destroy();
  });

  it('starts a healthy etcd, keeps data across a restart, and stops', async () => {
    etcd = await TestEtcd.start();
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      await client.put('k').value('v1');
      expect(await client.get('k').string()).toBe('v1');
      await etcd.stop();
      await expect(fetch(`${etcd.endpoint}/health`)).rejects.toThrow();
      await etcd.restart();
      expect(await client.get('k').string()).toBe('v1');
    } finally {
      client.close();
    }
  });
});
