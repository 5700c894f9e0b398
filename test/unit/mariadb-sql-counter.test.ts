import { describe, expect, it } from 'vitest';
import { MariadbRowCounter } from '../../src/counts/mariadb-sql.js';

const DUMP = [
  '/*M!999999\\- enable the sandbox mode */ ',
  '-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB',
  '--',
  '-- Current Database: `shop`',
  '--',
  'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
  'USE `shop`;',
  'DROP TABLE IF EXISTS `orders`;',
  'CREATE TABLE `orders` (',
  "  `id` int(11) NOT NULL COMMENT 'INSERT INTO `x` VALUES (1),(2);',",
  "  `note` text DEFAULT '(',",
  '  PRIMARY KEY (`id`)',
  ') ENGINE=InnoDB;',
  '--',
  '-- Dumping data for table `orders`',
  '--',
  'LOCK TABLES `orders` WRITE;',
  "INSERT INTO `orders` VALUES (1,'a (b), c'),(2,'it\\'s \\\\'),(3,NULL),(4,0x28290A),(5,'\\n(6,\\'x\\')');",
  "INSERT INTO `orders` VALUES (7,'VALUES (8)');",
  // Strings longer than the counter scans byte by byte (64): quotes, parentheses and ';' past that point.
  `INSERT INTO \`orders\` VALUES (11,'${'x'.repeat(70)}(;) \\' ${'y'.repeat(80)}'),(12,'${'z'.repeat(63)}\\'${'w'.repeat(100)}),(\\'');`,
  // MariaDB 10.x: one tuple per line.
  'INSERT INTO `orders` VALUES',
  "(8,'a;b'),",
  "(9,'multi\\nline; (x)'),",
  '(10,NULL);',
  'UNLOCK TABLES;',
  '-- Dumping data for table `empty one`',
  '-- Dumping data for table `we``ird ünïcode`',
  "INSERT INTO `we``ird ünïcode` (`a`,`V (x)`) VALUES ('x'),('y');",
  'USE `other db`;',
  '-- Dumping data for table `orders`',
  "INSERT IGNORE INTO `orders` VALUES (1,'((((');",
  '-- Dump completed on 2026-11-27 21:00:00',
  '',
].join('\n');

const EXPECTED = {
  shop: { orders: 11, 'empty one': 0, 'we`ird ünïcode': 2 },
  'other db': { orders: 1 },
};

describe('MariadbRowCounter', () => {
  it('counts the tuples of every INSERT per table, strings, escapes, hex and column lists notwithstanding', () => {
    const c = new MariadbRowCounter();
    c.push(Buffer.from(DUMP));
    expect(c.end()).toEqual(EXPECTED);
  });

  it('gives the same counts however the stream is cut into chunks', () => {
    const bytes = Buffer.from(DUMP);
    for (let size = 1; size <= 40; size++) {
      const c = new MariadbRowCounter();
      for (let i = 0; i < bytes.length; i += size) c.push(bytes.subarray(i, i + size));
      expect(c.end(), `chunks of ${size}`).toEqual(EXPECTED);
    }
    for (let cut = 1; cut < bytes.length; cut++) {
      const c = new MariadbRowCounter();
      c.push(bytes.subarray(0, cut));
      c.push(bytes.subarray(cut));
      expect(c.end(), `cut at ${cut}`).toEqual(EXPECTED);
    }
  });

  it('refuses a dump cut inside an INSERT', () => {
    const c = new MariadbRowCounter();
    c.push(Buffer.from("USE `a`;\nINSERT INTO `t` VALUES (1,'x'),(2,"));
    expect(() => c.end()).toThrow(/ends inside an INSERT into t/);
  });

  // How fast it counts is a benchmark figure (npm run bench -- --only counters), not a test.
  it('counts every tuple of a large dump handed over in pieces that cut its rows anywhere', () => {
    const row = "(123456,'some text with a \\' quote and (parens)',3.14159,'2026-11-27 21:00:00',0xDEADBEEF)";
    const line = Buffer.from(`INSERT INTO \`big\` VALUES ${Array.from({ length: 1000 }, () => row).join(',')};\n`);
    const lines = 100; // about 9 MiB
    const dump = Buffer.concat([Buffer.from('USE `b`;\n-- Dumping data for table `big`\n'), ...Array.from({ length: lines }, () => line)]);
    const c = new MariadbRowCounter();
    const piece = 65_521; // prime: the cuts fall at a different offset of a line each time
    for (let i = 0; i < dump.length; i += piece) c.push(dump.subarray(i, i + piece));
    expect(c.end()).toEqual({ b: { big: lines * 1000 } });
  });
});
