"""Realistic demo and benchmark data for the customer archive, created through the domain functions.

Names are composed from character lists rather than taken from Faker alone (its zh_CN name
vocabulary is small), so a million customers keep mostly distinct names. Everything is drawn
from one seeded `random.Random` per customer, so a seed always gives the same customers.
"""

import bisect
import logging
import random
import string
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import accumulate
from typing import Any, TypeVar

from faker import Faker
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric

from services.common.db import Database
from services.common.identity import Caller
from services.profile import codes, privacy, related, service
from services.profile.models import Customer
from services.profile.settings import ProfileSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

CALLER = Caller(id="demo-seed", kind="service", roles=("admin",), scope="all")
OWNERS = tuple(f"S{n}" for n in range(1001, 1051))
HISTORY_DAYS = 730
# Orders are kept clear of the 12-month window's edge, so a tier computed a little later agrees.
_WINDOW_MARGIN = timedelta(hours=6)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """'张zhang 王wang' -> (('张', 'zhang'), ('王', 'wang'))."""
    pairs = []
    for word in text.split():
        hanzi = word.rstrip(string.ascii_lowercase)
        pairs.append((hanzi, word[len(hanzi) :]))
    return tuple(pairs)


# -- vocabulary ------------------------------------------------------------------------------

# Common surnames, most frequent first (weights fall off with rank).
_SURNAMES = _pairs(
    "王wang 李li 张zhang 刘liu 陈chen 杨yang 黄huang 赵zhao 吴wu 周zhou 徐xu 孙sun 马ma 朱zhu "
    "胡hu 郭guo 何he 高gao 林lin 罗luo 郑zheng 梁liang 谢xie 宋song 唐tang 许xu 韩han 冯feng "
    "邓deng 曹cao 彭peng 萧xiao 田tian 董dong 袁yuan 潘pan 于yu 蒋jiang 蔡cai 余yu 杜du 叶ye "
    "程cheng 苏su 魏wei 吕lv 丁ding 任ren 沈shen 姚yao 卢lu 姜jiang 崔cui 钟zhong 谭tan 陆lu "
    "汪wang 范fan 金jin 石shi 廖liao 贾jia 夏xia 韦wei 付fu 方fang 白bai 邹zou 孟meng 熊xiong "
    "秦qin 邱qiu 江jiang 尹yin 薛xue 闫yan 段duan 雷lei 侯hou 龙long 史shi 陶tao 黎li 贺he "
    "顾gu 毛mao 郝hao 龚gong 邵shao 万wan 钱qian 严yan 覃qin 武wu 戴dai 莫mo 孔kong 向xiang 汤tang "
    "常chang 温wen 康kang 施shi 文wen 牛niu 樊fan 葛ge 邢xing 安an 齐qi 易yi 乔qiao 伍wu 庞pang "
    "颜yan 倪ni 庄zhuang 聂nie 章zhang 鲁lu 岳yue 翟zhai 殷yin 詹zhan 申shen 欧ou 耿geng 关guan "
    "兰lan 焦jiao 俞yu 左zuo 柳liu 甘gan 祝zhu 包bao 宁ning 尚shang 符fu 舒shu 阮ruan 柯ke 纪ji "
    "梅mei 童tong 凌ling 毕bi 单shan 季ji 裴pei 霍huo 涂tu 成cheng 苗miao 谷gu 盛sheng 曾zeng "
    "骆luo 邬wu 路lu 洪hong 宗zong 滕teng 蓝lan 辛xin"
)
# Rarer surnames whose reading trips up naive pinyin (单 shan, 曾 zeng, 区 ou, 朴 piao ...)
# and compound surnames.
_RARE_SURNAMES = _pairs(
    "区ou 朴piao 解xie 查zha 乐yue 仇qiu 缪miao 尉yu 盖ge 种chong 繁po 过guo 华hua 任ren 单shan "
    "曾zeng 覃qin 员yun 冼xian 禤xuan 佘she 隗wei 逄pang 欧阳ouyang 司马sima 诸葛zhuge 上官shangguan "
    "东方dongfang 皇甫huangfu 慕容murong 令狐linghu 司徒situ 尉迟yuchi 公孙gongsun"
)
_MALE_CHARS = _pairs(
    "伟wei 强qiang 磊lei 军jun 勇yong 杰jie 涛tao 斌bin 超chao 明ming 刚gang 平ping 辉hui 鹏peng "
    "华hua 飞fei 鑫xin 波bo 宇yu 浩hao 凯kai 健jian 俊jun 帆fan 帅shuai 旭xu 宁ning 龙long 林lin "
    "阳yang 洋yang 峰feng 建jian 国guo 志zhi 海hai 东dong 文wen 博bo 晨chen 昊hao 天tian 子zi "
    "轩xuan 泽ze 睿rui 然ran 哲zhe 瑞rui 诚cheng 铭ming 宏hong 毅yi 坤kun 亮liang 成cheng 振zhen "
    "晖hui 立li 永yong 春chun 德de 庆qing 嘉jia 锦jin 豪hao 航hang 翔xiang 骏jun 一yi 思si 彬bin "
    "钧jun 锋feng 祥xiang 武wu 兴xing 良liang 松song 柏bai 家jia 川chuan 岩yan 奕yi 朗lang 远yuan"
)
_FEMALE_CHARS = _pairs(
    "芳fang 娜na 敏min 静jing 丽li 艳yan 娟juan 霞xia 秀xiu 玲ling 婷ting 雪xue 慧hui 莹ying "
    "倩qian 琳lin 晶jing 颖ying 燕yan 洁jie 欣xin 怡yi 佳jia 萍ping 红hong 梅mei 兰lan 月yue "
    "璐lu 瑶yao 琪qi 悦yue 诗shi 梦meng 雨yu 涵han 萱xuan 妍yan 晴qing 薇wei 蕾lei 露lu 婉wan "
    "茜qian 蓉rong 菲fei 丹dan 青qing 春chun 晓xiao 思si 雅ya 文wen 心xin 嘉jia 可ke 安an 宁ning "
    "馨xin 淑shu 爽shuang 婧jing 琴qin 云yun 凤feng 珊shan 媛yuan 岚lan 彤tong 韵yun 一yi 子zi"
)
# Characters of brand names (字号), with pinyin for company e-mail domains.
_BRAND_CHARS = _pairs(
    "华hua 恒heng 瑞rui 信xin 达da 通tong 盛sheng 泰tai 鑫xin 宏hong 博bo 创chuang 锦jin 联lian "
    "丰feng 源yuan 海hai 天tian 正zheng 新xin 中zhong 金jin 明ming 德de 永yong 建jian 安an "
    "佳jia 嘉jia 汇hui 凯kai 鼎ding 诚cheng 远yuan 升sheng 康kang 润run 和he 兴xing 隆long "
    "昌chang 富fu 荣rong 腾teng 飞fei 龙long 星xing 宇yu 晨chen 光guang 辉hui 合he 力li 东dong "
    "方fang 维wei 智zhi 云yun 美mei 优you 卓zhuo 越yue 铭ming 睿rui 思si 科ke 利li 邦bang 益yi "
    "顺shun 发fa 豪hao 威wei 百bai 万wan 亿yi 奥ao 普pu 图tu 朗lang 拓tuo 赛sai 迅xun 捷jie "
    "灵ling 聚ju 君jun 森sen 蓝lan 银yin 宝bao 峰feng 川chuan 祥xiang 福fu 乐le 欣xin 奇qi 精jing "
    "标biao 致zhi 尚shang 品pin 弘hong 翔xiang 泓hong 琪qi 骏jun 振zhen 立li 格ge 英ying"
)
# A few brands shared by many companies, the way 恒达 or 华信 recur across China.
_COMMON_BRANDS = _words(
    "恒达 华信 宏达 金龙 天成 永盛 鑫源 明辉 新华 中联 东方 华泰 瑞丰 宏远 天宇 华美 金鼎 安泰 佳禾 博远"
)
_BRAND_PINYIN = {c: p for c, p in _BRAND_CHARS} | {"禾": "he"}

# Industry words in company names, by GB/T 4754 division; "" falls back to _GENERIC_WORDS.
_DIVISION_WORDS: dict[str, tuple[str, ...]] = {
    "01": ("农业", "农业科技", "种业"),
    "02": ("林业", "苗木"),
    "03": ("畜牧", "养殖"),
    "04": ("水产", "渔业"),
    "05": ("农业服务", "农机服务"),
    "13": ("农副产品", "粮油", "饲料"),
    "14": ("食品", "食品科技", "乳业"),
    "15": ("酒业", "饮品", "茶业"),
    "17": ("纺织", "织造"),
    "18": ("服饰", "服装", "制衣"),
    "19": ("鞋业", "皮革"),
    "20": ("木业",),
    "21": ("家具", "家居"),
    "22": ("纸业", "包装"),
    "23": ("印务", "印刷"),
    "24": ("文体用品", "玩具"),
    "26": ("化工", "新材料", "化学"),
    "27": ("医药", "生物医药", "制药", "药业"),
    "28": ("化纤",),
    "29": ("塑胶", "橡塑", "塑料制品"),
    "30": ("建材", "陶瓷", "玻璃"),
    "31": ("钢铁", "特钢"),
    "32": ("铝业", "有色金属"),
    "33": ("五金", "金属制品", "精密制造"),
    "34": ("机械", "精密机械", "机电设备", "泵业"),
    "35": ("机械设备", "自动化设备", "智能装备", "医疗器械"),
    "36": ("汽车零部件", "汽车部件", "汽配"),
    "37": ("船舶", "车辆"),
    "38": ("电气", "电器", "电缆", "新能源"),
    "39": ("电子", "电子科技", "通信设备", "微电子", "光电"),
    "40": ("仪器仪表", "仪器", "检测设备"),
    "44": ("电力", "能源"),
    "45": ("燃气",),
    "46": ("水务",),
    "47": ("建设", "建筑工程"),
    "48": ("路桥", "市政工程"),
    "49": ("安装工程", "机电安装"),
    "50": ("装饰工程", "装饰设计"),
    "51": ("贸易", "商贸", "进出口", "供应链管理", "国际贸易", "实业"),
    "52": ("商贸", "百货", "超市", "零售"),
    "54": ("物流", "运输", "货运"),
    "58": ("国际物流", "货运代理"),
    "59": ("仓储", "仓储物流"),
    "61": ("酒店", "酒店管理"),
    "62": ("餐饮", "餐饮管理"),
    "63": ("通信", "网络通信"),
    "64": ("网络科技", "互联网科技", "信息科技"),
    "65": ("软件", "信息技术", "数据科技", "软件技术", "智能科技", "云计算"),
    "70": ("置业", "房地产开发", "物业服务"),
    "71": ("租赁", "设备租赁"),
    "72": ("企业管理咨询", "商务咨询", "人力资源", "广告", "会展服务"),
    "73": ("生物科技", "技术研究"),
    "74": ("检测技术", "工程设计", "环境检测"),
    "75": ("科技", "技术开发"),
    "77": ("环保科技", "环境工程"),
    "80": ("家政服务", "保洁服务"),
    "83": ("教育科技", "培训"),
    "84": ("医疗管理", "健康管理"),
    "86": ("文化传媒", "出版"),
    "87": ("影视传媒", "影视文化"),
    "88": ("文化发展", "文化艺术"),
    "89": ("体育发展", "健身"),
}
_GENERIC_WORDS = ("科技", "实业", "发展", "技术", "工贸")

# Relative weights of GB/T 4754 divisions: manufacturing, wholesale, software and IT weigh more.
_DIVISION_WEIGHTS: dict[str, float] = {
    **{f"{d}": 2.0 for d in range(13, 44)},
    "26": 3.0,
    "27": 3.0,
    "33": 4.0,
    "34": 5.0,
    "35": 5.0,
    "36": 3.0,
    "38": 4.0,
    "39": 5.0,
    "51": 14.0,
    "52": 6.0,
    "64": 4.0,
    "65": 10.0,
    "72": 4.0,
    "54": 2.0,
    "47": 2.0,
    "50": 2.0,
}
# Public bodies and international organisations are not customers here.
_EXCLUDED_SECTIONS = {"S", "T"}

# Relative weights of provinces (GB/T 2260 two-digit prefixes): big economies weigh more.
_PROVINCE_WEIGHTS: dict[str, float] = {
    "44": 16,
    "32": 13,
    "33": 12,
    "31": 9,
    "11": 8,
    "37": 8,
    "35": 5,
    "51": 5,
    "42": 4,
    "41": 4,
    "43": 3,
    "34": 3,
    "12": 3,
    "50": 3,
    "61": 2.5,
    "13": 2.5,
    "21": 2,
    "36": 2,
    "45": 1.5,
    "53": 1.5,
    "14": 1,
    "22": 1,
    "23": 1,
    "52": 1,
    "62": 0.6,
    "15": 0.8,
    "46": 0.6,
    "65": 0.6,
    "64": 0.3,
    "63": 0.2,
    "54": 0.1,
}

_ROADS = (
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "新华路",
    "长江路",
    "黄河路",
    "科技园路",
    "创业大道",
    "高新大道",
    "工业园路",
    "振兴路",
    "文化路",
    "东风路",
    "迎宾大道",
    "学府路",
    "滨江路",
    "世纪大道",
    "金融街",
    "开发区大道",
    "经济技术开发区纬五路",
    "云海路",
    "锦绣路",
    "湖滨路",
)
_BUILDINGS = ("大厦", "科技园", "国际中心", "产业园", "广场", "商务中心", "工业园", "创业园")
_TITLES = (
    "总经理",
    "副总经理",
    "采购经理",
    "采购专员",
    "采购主管",
    "财务经理",
    "财务总监",
    "技术总监",
    "IT经理",
    "行政主管",
    "董事长",
    "运营总监",
    "销售经理",
    "项目经理",
    "厂长",
    "办公室主任",
    "法务",
)
_FREE_MAIL = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "aliyun.com", "139.com")
_MOBILE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 170 171 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 "
    "191 193 195 196 197 198 199"
)
_INTERESTS = (
    "数字化转型",
    "成本控制",
    "供应链金融",
    "智能制造",
    "出口业务",
    "新能源",
    "绿色低碳",
    "ERP集成",
    "数据安全",
    "渠道拓展",
    "品牌营销",
    "售后服务",
    "定制开发",
    "培训服务",
    "年度框架协议",
    "茶叶",
    "高尔夫",
    "摄影",
    "健身",
    "旅游",
    "红酒",
    "书法",
    "理财",
)
_NOTES = (
    "决策链较长，需同时对接技术与采购。",
    "年底有集中采购预算。",
    "对价格敏感，关注付款账期。",
    "老客户介绍，关系良好。",
    "曾使用竞品，正在评估替换。",
    "偏好微信沟通，工作日上午方便。",
    "需开具增值税专用发票。",
    "春节前后联系较难。",
    "总部在外地，本地为分支机构。",
)
_PRODUCTS = (
    "CRM标准版年度订阅",
    "CRM企业版年度订阅",
    "实施服务",
    "数据迁移服务",
    "定制开发",
    "培训服务",
    "运维支持服务包",
    "工业传感器",
    "数控机床配件",
    "伺服电机",
    "PLC控制器",
    "工业机器人",
    "不锈钢管材",
    "包装材料",
    "办公设备",
    "服务器",
    "网络交换机",
    "检测仪器",
    "原材料采购",
    "电子元器件",
    "液压阀组",
    "LED照明",
    "食品原料",
    "医用耗材",
)
_INTERACTION_SUMMARIES = {
    "follow_up": (
        "电话回访，客户对{p}的报价有疑问，约定下周再联系。",
        "跟进{p}采购进度，客户内部审批中。",
        "发送了{p}的最新报价单，客户表示会尽快答复。",
        "回访使用情况，客户整体满意，提出两项改进建议。",
    ),
    "inquiry": ("客户咨询{p}的交货期和付款方式。", "客户询问{p}的技术参数及售后保障。"),
    "complaint": ("客户反映{p}到货延迟，已协调物流加急处理。", "客户投诉{p}质量问题，已安排技术人员上门。"),
    "demo": ("为客户演示{p}，参会人员包括采购和技术负责人。", "线上演示{p}，客户对报表功能比较感兴趣。"),
    "visit": ("上门拜访，了解客户年度采购计划。", "拜访客户工厂，参观生产线并洽谈{p}合作。"),
    "other": ("节日问候并寄送礼品。", "邀请客户参加行业展会。"),
}
_CONTRACT_KINDS = ("采购合同", "服务合同", "框架协议", "年度合作协议")
_SERVICE_SUBJECTS = {
    "complaint": ("发货延迟", "产品质量问题", "发票开具错误", "服务响应慢"),
    "inquiry": ("咨询续费政策", "咨询产品升级", "咨询合同条款"),
    "feedback": ("功能改进建议", "使用体验反馈"),
    "repair": ("设备故障报修", "系统无法登录", "配件更换"),
    "other": ("资料变更申请", "对账需求"),
}


def _choice_weighted(rng: random.Random, items: Sequence[T], cum: Sequence[float]) -> T:
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def _pick(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


@cache
def _surname_table() -> tuple[tuple[tuple[str, str], ...], tuple[float, ...]]:
    names = _SURNAMES + _RARE_SURNAMES
    weights = [40 / (rank + 4) for rank in range(len(_SURNAMES))] + [0.12] * len(_RARE_SURNAMES)
    return names, tuple(accumulate(weights))


@cache
def _industry_table() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """4-digit class codes with cumulative weights (a division's weight shared by its classes)."""
    table = codes.industries()
    by_division: dict[str, list[str]] = {}
    for code in table.values():
        if code.level == "class":
            by_division.setdefault(code.code[:2], []).append(code.code)
    classes: list[str] = []
    weights: list[float] = []
    for division, members in sorted(by_division.items()):
        parent = table[division].parent if division in table else None
        if parent in _EXCLUDED_SECTIONS:
            continue
        weight = _DIVISION_WEIGHTS.get(division, 0.6)
        classes += members
        weights += [weight / len(members)] * len(members)
    return tuple(classes), tuple(accumulate(weights))


@cache
def _region_table() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """County-level codes (and cities without counties) with cumulative weights."""
    table = codes.regions()
    parents = {c.parent for c in table.values() if c.parent}
    by_province: dict[str, list[str]] = {}
    for code in table.values():
        county_level = code.level == "county" or (code.level == "city" and code.code not in parents)
        if county_level and code.code[:2] in _PROVINCE_WEIGHTS:
            by_province.setdefault(code.code[:2], []).append(code.code)
    regions: list[str] = []
    weights: list[float] = []
    for province, members in sorted(by_province.items()):
        # Urban districts (区) host more businesses than rural counties.
        member_weights = [3.0 if table[m].name.endswith("区") else 1.0 for m in members]
        total = sum(member_weights)
        regions += members
        weights += [_PROVINCE_WEIGHTS[province] * w / total for w in member_weights]
    return tuple(regions), tuple(accumulate(weights))


def _region_names(code: str) -> tuple[str, str, str]:
    """(province, city or "", county) names of a county-level code."""
    chain = codes.region_ancestors(code)
    province, county = chain[0].name, chain[-1].name
    city = chain[1].name if len(chain) == 3 else ""
    return province, city, county


def _city_word(province: str, city: str, county: str) -> str:
    """The place word a company name starts with: its city (or municipality/county)."""
    if province.endswith("市"):
        return province
    if city and not city.endswith(("自治州", "地区", "盟")):
        return city
    return county if county.endswith("市") else province


def _short_place(place: str) -> str:
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"):
        if place.endswith(suffix) and len(place) > len(suffix) + 1:
            return place[: -len(suffix)]
    return place


def person_name(rng: random.Random, gender: str | None = None) -> tuple[str, str]:
    """A Chinese person's name and its pinyin, composed for variety (rare surnames sometimes)."""
    names, cum = _surname_table()
    surname, surname_py = _choice_weighted(rng, names, cum)
    gender = gender or rng.choice(("male", "female"))
    chars = _MALE_CHARS if gender == "male" else _FEMALE_CHARS
    given = [rng.choice(chars) for _ in range(1 if rng.random() < 0.3 else 2)]
    if len(surname) == 2:
        given = given[:1]
    return surname + "".join(c for c, _ in given), surname_py + "".join(p for _, p in given)


def _brand(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.06:
        brand = rng.choice(_COMMON_BRANDS)
    else:
        first, second = rng.sample(_BRAND_CHARS, 2)
        brand = first[0] + second[0]
        if rng.random() < 0.08:
            brand += rng.choice(_BRAND_CHARS)[0]
    return brand, "".join(_BRAND_PINYIN.get(c, "x") for c in brand)


def company_name(rng: random.Random, industry_code: str, region_code: str) -> tuple[str, str]:
    """A Chinese company name fitting the industry and region, and its brand in pinyin."""
    province, city, county = _region_names(region_code)
    place = _city_word(province, city, county)
    brand, brand_py = _brand(rng)
    word = rng.choice(_DIVISION_WORDS.get(industry_code[:2]) or _GENERIC_WORDS)
    suffix = _pick(rng, (("有限公司", 70), ("股份有限公司", 10), ("有限责任公司", 8), ("集团有限公司", 3)))
    form = rng.random()
    if form < 0.55:
        name = f"{place}{brand}{word}{suffix}"
    elif form < 0.72:
        name = f"{_short_place(place)}{brand}{word}{suffix}"
    elif form < 0.82:
        name = f"{brand}{word}（{_short_place(place)}）有限公司"
    elif form < 0.90 and county != place:
        district = county[:-2] if county.endswith("新区") else county[:-1] if len(county) > 2 else county
        name = f"{_short_place(place)}{district}{brand}{word}{suffix}"
    elif form < 0.95:
        name = f"{brand}{word}{suffix}"
    else:
        hq = _short_place(rng.choice(("北京市", "上海市", "深圳市", "广州市", "杭州市", "南京市")))
        name = f"{hq}{brand}{word}有限公司{_short_place(place)}分公司"
    return name, brand_py


def _id_number(rng: random.Random, region_code: str, birthday: date, gender: str) -> str | None:
    """A well-formed resident ID for a demo person born there then, or None where the place
    code is not a county of that time (the check also covers place and date)."""
    sequence = rng.randrange(500) * 2 + (1 if gender == "male" else 0)
    body = f"{region_code}{birthday:%Y%m%d}{sequence:03d}"
    number = body + ric.calc_check_digit(body + "0")
    try:
        return str(ric.validate(number))
    except (stdnum_exceptions.ValidationError, KeyError):  # KeyError: a city code, no county entry
        return None


def _address(rng: random.Random, faker: Faker, region_code: str) -> str:
    province, city, county = _region_names(region_code)
    prefix = province if province == city else province + city
    road = faker.street_name() if rng.random() < 0.2 else rng.choice(_ROADS)
    number = f"{rng.randint(1, 999)}号"
    if rng.random() < 0.5:
        number += f"{rng.choice(_BRAND_CHARS)[0]}{rng.choice(_BUILDINGS)}{rng.randint(1, 30)}楼"
        if rng.random() < 0.5:
            number += f"{rng.randint(1, 30)}{rng.randint(1, 20):02d}室"
    return f"{prefix}{county}{road}{number}"


def mobile(rng: random.Random) -> str:
    """A mainland mobile number with a real carrier prefix."""
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _wechat(rng: random.Random, pinyin: str) -> str:
    if rng.random() < 0.4:
        return "wxid_" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(8, 14)))
    handle = pinyin[:12] + rng.choice(("", "_", "-")) + str(rng.randint(1, 9999))
    return handle if len(handle) >= 6 else handle + "".join(rng.choices(string.digits, k=6 - len(handle)))


def _contact(
    rng: random.Random, company_domain: str | None, name_and_pinyin: tuple[str, str] | None = None
) -> dict[str, Any]:
    name, pinyin = name_and_pinyin or person_name(rng)
    contact: dict[str, Any] = {"name": name, "phones": [mobile(rng)]}
    if rng.random() < 0.12:
        contact["phones"].append(mobile(rng))
    if company_domain:
        contact["title"] = rng.choice(_TITLES)
    roll = rng.random()
    if company_domain and roll < 0.45:
        number = str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
        contact["emails"] = [f"{pinyin}{number}@{company_domain}"]
    elif roll < 0.65:
        local = str(rng.randint(10**5, 10**10)) if rng.random() < 0.4 else f"{pinyin}{rng.randint(1, 9999)}"
        contact["emails"] = [f"{local}@{rng.choice(_FREE_MAIL)}"]
    if rng.random() < 0.5:
        contact["wechat"] = _wechat(rng, pinyin)
    if rng.random() < 0.03:
        contact["departed"] = True
    return contact


def customer_payload(rng: random.Random, *, faker: Faker) -> dict[str, Any]:
    """One realistic customer, as accepted by `service.create(data=...)`.

    Faker (zh_CN) is re-seeded from rng, so the payload depends on rng alone.
    """
    faker.seed_instance(rng.getrandbits(32))
    classes, class_cum = _industry_table()
    regions, region_cum = _region_table()
    industry_code = _choice_weighted(rng, classes, class_cum)
    region_code = _choice_weighted(rng, regions, region_cum)
    is_company = rng.random() < 0.8
    status = _pick(rng, (("potential", 52), ("deal", 38), ("churned", 10)))
    stage = {
        "potential": lambda: _pick(rng, (("lead", 50), ("intent", 30), ("proposal", 20))),
        "deal": lambda: _pick(rng, (("deal", 50), ("repeat", 35), ("loyal", 15))),
        "churned": lambda: "churned",
    }[status]()
    data: dict[str, Any] = {
        "kind": "company" if is_company else "individual",
        "industry_code": industry_code,
        "region_code": region_code,
        "address": _address(rng, faker, region_code) if rng.random() < 0.9 else None,
        "status": status,
        "stage": stage,
        "owner_id": rng.choice(OWNERS) if rng.random() < 0.95 else None,
    }
    if is_company:
        name, brand_py = company_name(rng, industry_code, region_code)
        domain = f"{brand_py}{rng.choice(('', 'tech', 'group', 'gs'))}.{rng.choice(('com', 'cn', 'com.cn'))}"
        data["name"] = name
        data["scale"] = _pick(rng, (("small", 55), ("medium", 30), ("large", 10), (None, 5)))
        data["source_channel"] = _pick(
            rng,
            (
                ("web_form", 14),
                ("ecommerce", 4),
                ("social", 6),
                ("trade_show", 16),
                ("referral", 20),
                ("manual", 22),
                ("import", 10),
                ("api", 5),
                ("other", 3),
            ),
        )
        contacts = [_contact(rng, domain) for _ in range(_pick(rng, ((1, 55), (2, 30), (3, 15))))]
    else:
        gender = _pick(rng, (("male", 48), ("female", 48), ("unknown", 4)))
        person = person_name(rng, gender if gender != "unknown" else None)
        data["name"] = person[0]
        data["gender"] = gender
        if rng.random() < 0.85:
            data["birthday"] = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
            if rng.random() < 0.6 and (number := _id_number(rng, region_code, data["birthday"], gender)):
                data["id_number"] = number
        data["source_channel"] = _pick(
            rng,
            (
                ("web_form", 15),
                ("ecommerce", 25),
                ("social", 20),
                ("referral", 15),
                ("manual", 15),
                ("api", 5),
                ("other", 5),
            ),
        )
        contacts = [_contact(rng, None, person)]
        if rng.random() < 0.15:
            contacts.append(_contact(rng, None))  # a spouse or assistant
    contacts[rng.randrange(len(contacts))]["is_primary"] = True
    for contact in contacts:
        if contact.get("is_primary"):
            contact.pop("departed", None)
    data["contacts"] = contacts
    if rng.random() < 0.4:
        data["interests"] = rng.sample(_INTERESTS, rng.randint(1, 3))
    if rng.random() < 0.3:
        data["preferences"] = {
            "contact_time": rng.choice(("工作日上午", "工作日下午", "晚上", "周末")),
            "channel": rng.choice(("phone", "wechat", "email", "visit")),
        }
        if is_company and rng.random() < 0.5:
            data["preferences"]["invoice"] = rng.choice(("增值税专用发票", "增值税普通发票"))
    if rng.random() < 0.25:
        data["notes"] = "".join(rng.sample(_NOTES, rng.randint(1, 2)))
    if is_company and status != "potential" and rng.random() < 0.7:
        limit = rng.choice((5, 10, 20, 30, 50, 100, 200, 500)) * 10_000
        data["credit_limit"] = f"{limit}.00"
        if rng.random() < 0.5:
            data["outstanding_amount"] = _money(limit * rng.uniform(0.01, 0.9))
    if not is_company and status != "potential" and rng.random() < 0.6:
        data["loyalty_points"] = int(rng.lognormvariate(7, 1.2))
    return {k: v for k, v in data.items() if v is not None}


# -- related records -------------------------------------------------------------------------


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max((end - start).total_seconds(), 0.0)
    return (start + timedelta(seconds=rng.random() * seconds)).replace(microsecond=0)


def _money(value: float) -> str:
    return f"{Decimal(str(max(value, 1.0))).quantize(Decimal('0.01'))}"


def related_payloads(
    rng: random.Random,
    customer_created_at: datetime,
    now: datetime,
    *,
    customer: dict[str, Any] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Orders, interactions, contracts and service records of one customer, as the related
    creators accept them; all times between the customer's creation and now (UTC, never future).

    With the customer's payload, counts and amounts follow its status, stage, kind and scale.
    """
    customer = customer or {}
    now = now.astimezone(UTC)
    start = min(max(customer_created_at.astimezone(UTC), now - timedelta(days=HISTORY_DAYS)), now)
    status = customer.get("status") or rng.choice(("potential", "deal", "churned"))
    is_company = customer.get("kind", "company") == "company"
    scale = customer.get("scale") or "small"
    months = (now - start).days / 30.4

    # Orders: deal customers buy; churned ones bought before they left; potential ones rarely.
    order_end = now - timedelta(days=rng.randint(180, 400)) if status == "churned" else now
    # Repeat and loyal customers order more often; customers who joined lately had less time.
    lowest, highest = {"repeat": (2, 5), "loyal": (3, 8)}.get(customer.get("stage", ""), (1, 3))
    if status == "potential":
        n_orders = 0
    else:
        n_orders = max(1, round(rng.randint(lowest, highest) * min(1.0, 0.3 + months / 12)))
    median = {"small": 10_000, "medium": 50_000, "large": 200_000}[scale] if is_company else 1_500
    orders: list[dict[str, Any]] = []
    if order_end > start:
        window_edge = now - timedelta(days=365)
        for _ in range(n_orders):
            at = _between(rng, start, order_end)
            if abs(at - window_edge) < _WINDOW_MARGIN:
                at -= 2 * _WINDOW_MARGIN
            quantity = rng.choice((1, 1, 1, 2, 5, 10, 20, 50, 100))
            order: dict[str, Any] = {
                "product": rng.choice(_PRODUCTS),
                "quantity": quantity,
                "amount": _money(rng.lognormvariate(0, 0.9) * median),
                "ordered_at": max(at, start),
                "channel": _pick(
                    rng,
                    (
                        ("direct", 40),
                        ("online", 20),
                        ("offline", 15),
                        ("distributor", 15),
                        ("ecommerce", 8 if is_company else 40),
                        ("other", 2),
                    ),
                ),
            }
            if order["channel"] in ("ecommerce", "online") and rng.random() < 0.7:
                order["external_id"] = f"EC{order['ordered_at']:%Y%m%d}{rng.randrange(10**12):012d}"
            orders.append(order)

    # Most customers have a few logged interactions, a handful have many (geometric, up to 10).
    n_interactions = 0
    keep_going = 0.3 if status == "potential" else 0.45
    while n_interactions < 10 and rng.random() < keep_going:
        n_interactions += 1
    interactions = []
    for _ in range(n_interactions):
        kind = _pick(
            rng,
            (
                ("follow_up", 45),
                ("inquiry", 15),
                ("demo", 10),
                ("visit", 12 if is_company else 2),
                ("complaint", 5),
                ("other", 8),
            ),
        )
        channel = (
            "visit"
            if kind == "visit"
            else _pick(
                rng,
                (
                    ("phone", 35),
                    ("wechat", 30),
                    ("email", 12),
                    ("meeting", 10),
                    ("web", 8),
                    ("other", 5),
                ),
            )
        )
        summary = rng.choice(_INTERACTION_SUMMARIES[kind]).format(p=rng.choice(_PRODUCTS))
        interaction: dict[str, Any] = {
            "channel": channel,
            "type": kind,
            "occurred_at": _between(rng, start, now),
            "summary": summary,
        }
        if rng.random() < 0.8:
            interaction["by_user"] = rng.choice(OWNERS)
        interactions.append(interaction)

    contracts = []
    if is_company and status != "potential":
        for _ in range(_pick(rng, ((0, 60), (1, 32), (2, 8)))):
            signed = _between(rng, start, now).date()
            starts = signed + timedelta(days=rng.randint(0, 30))
            ends = starts + timedelta(days=365 * rng.choice((1, 1, 2, 3)) - 1)
            if rng.random() < 0.06:
                contract_status = "terminated"
            elif starts > now.date():
                contract_status = "draft"
            else:
                contract_status = "active" if ends >= now.date() else "expired"
            suffix = "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))
            contracts.append(
                {
                    "number": f"HT{signed:%Y%m%d}-{suffix}",
                    "title": rng.choice(_PRODUCTS) + rng.choice(_CONTRACT_KINDS),
                    "amount": _money(rng.lognormvariate(0, 0.8) * median * 3),
                    "signed_on": signed if contract_status != "draft" else None,
                    "starts_on": starts,
                    "ends_on": ends,
                    "status": contract_status,
                }
            )

    records = []
    for _ in range(_pick(rng, ((0, 78), (1, 15), (2, 5), (3, 2)))):
        category = _pick(
            rng, (("inquiry", 35), ("complaint", 20), ("feedback", 15), ("repair", 20), ("other", 10))
        )
        opened = _between(rng, start, now)
        record_status = _pick(rng, (("open", 20), ("resolved", 40), ("closed", 40)))
        record: dict[str, Any] = {
            "category": category,
            "subject": rng.choice(_SERVICE_SUBJECTS[category]),
            "status": record_status,
            "opened_at": opened,
        }
        if rng.random() < 0.6:
            record["description"] = f"客户来电反映：{record['subject']}，已登记并转交相关部门处理。"
        if record_status != "open":
            record["resolved_at"] = min(opened + timedelta(hours=rng.uniform(1, 24 * 7)), now)
            if rng.random() < 0.7:
                record["satisfaction"] = _pick(rng, ((5, 40), (4, 35), (3, 15), (2, 6), (1, 4)))
        records.append(record)

    return {
        "orders": orders,
        "interactions": interactions,
        "contracts": contracts,
        "service_records": records,
    }


# -- seeding ---------------------------------------------------------------------------------


def _events(related_data: dict[str, list[dict[str, Any]]]) -> list[tuple[datetime, str, dict[str, Any]]]:
    """Related records in the order they happened, each with the time it was recorded."""
    events: list[tuple[datetime, str, dict[str, Any]]] = []
    for order in related_data["orders"]:
        events.append((order["ordered_at"], "orders", order))
    for interaction in related_data["interactions"]:
        events.append((interaction["occurred_at"], "interactions", interaction))
    for contract in related_data["contracts"]:
        day = contract["signed_on"] or contract["starts_on"]
        events.append((datetime(day.year, day.month, day.day, 2, tzinfo=UTC), "contracts", contract))
    for record in related_data["service_records"]:
        events.append((record["opened_at"], "service_records", record))
    events.sort(key=lambda e: e[0])
    return events


def _json_ready(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in data.items()}


def _seed_one(
    session: Session,
    rng: random.Random,
    faker: Faker,
    settings: ProfileSettings,
    now: datetime,
    created_at: datetime,
    used_keys: set[str],
) -> Customer:
    payload = customer_payload(rng, faker=faker)
    customer = service.create(session=session, caller=CALLER, data=payload, at=created_at)
    related_data = related_payloads(rng, created_at, now, customer=payload)
    creators: dict[str, Callable[..., Any]] = {
        "orders": lambda **kw: related.create_order(settings=settings, **kw),
        "interactions": related.create_interaction,
        "contracts": related.create_contract,
        "service_records": related.create_service_record,
    }
    for at, kind, data in _events(related_data):
        key = data.get("number") or data.get("external_id")
        if key in used_keys:
            continue
        if key:
            used_keys.add(key)
        creators[kind](
            session=session,
            caller=CALLER,
            customer_id=customer.id,
            data=_json_ready(data),
            at=min(max(at, created_at), now),
        )
    if related_data["orders"]:
        # Orders age out of the 12-month window; bring the tier up to now as the nightly job would.
        before = service.customer_to_dict(customer)
        old = (customer.tier, customer.deal_amount_12m_fen)
        service.refresh_tier(session, customer, settings, now)
        if (customer.tier, customer.deal_amount_12m_fen) != old:
            service.touch(session, customer, CALLER, "customer.tier_refreshed", before, now, edit=False)
    _seed_consents(session, rng, customer.id, created_at, now)
    return customer


# Share of demo customers who consent to each purpose, and how consents come in.
_CONSENT_SHARES = (("marketing", 0.45), ("analytics", 0.3))
_CONSENT_EVIDENCE = {
    "web_form": "网页表单 WF-{n:06d}",
    "paper": "纸质同意书 P-{n:06d}",
    "phone": "通话录音 REC-{n:06d}",
    "app": "App 授权记录 APP-{n:06d}",
}


def _seed_consents(
    session: Session, rng: random.Random, customer_id: str, created_at: datetime, now: datetime
) -> None:
    for purpose, share in _CONSENT_SHARES:
        if rng.random() >= share:
            continue
        channel = rng.choice(sorted(_CONSENT_EVIDENCE))
        given_at = created_at + (now - created_at) * rng.random() * 0.2
        privacy.give_consent(
            session=session,
            caller=CALLER,
            customer_id=customer_id,
            data={
                "purpose": purpose,
                "channel": channel,
                "given_at": given_at,
                "evidence": _CONSENT_EVIDENCE[channel].format(n=rng.randrange(10**6)),
            },
            at=given_at,
        )


def joined_at(index: int, total: int, rng: random.Random, now: datetime) -> datetime:
    """When the index-th of total customers joined: in order, over the past two years, more lately."""
    share = ((index + rng.random()) / total) ** 0.5
    return (now - timedelta(days=HISTORY_DAYS) * (1 - share)).replace(microsecond=0)


def seed(
    db: Database,
    *,
    customers: int,
    seed: int = 42,
    batch: int = 200,
    settings: ProfileSettings | None = None,
    now: datetime | None = None,
    only_if_empty: bool = False,
) -> int:
    """Create that many demo customers with their related records; returns how many were created.

    One unit of work per batch; the same seed (and now) gives the same customers. With
    only_if_empty, nothing is created when the archive already holds customers.
    """
    if only_if_empty:
        with db.session_scope(readonly=True) as session:
            existing = session.scalar(select(func.count()).select_from(Customer)) or 0
        if existing:
            log.info("the archive already holds %d customers; demo data not seeded", existing)
            return 0
    started = time.perf_counter()
    settings = settings or ProfileSettings()
    now = (now or service.now()).astimezone(UTC).replace(microsecond=0)
    faker = Faker("zh_CN")
    used_keys: set[str] = set()
    created = 0
    while created < customers:
        size = min(batch, customers - created)
        with db.session_scope() as session:
            for i in range(created, created + size):
                rng = random.Random(f"crm-demo:{seed}:{i}")
                _seed_one(session, rng, faker, settings, now, joined_at(i, customers, rng, now), used_keys)
        created += size
        log.info("seeded %d of %d demo customers", created, customers)
    log.info("seeded %d demo customers in %.1f s", created, time.perf_counter() - started)
    return created
